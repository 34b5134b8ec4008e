/** A PostgreSQL server (or a database of its own on one) for tests and benchmarks. */
export interface TestServer {
  /** Connection string of a database of its own. */
  url: string
  /** Stops the embedded server (deleting its data), or drops the database on the external one. */
  stop(): Promise<void>
}

/** Starts a server with a database of its own: in the external server TES_POSTGRES_URL names, else an embedded one. */
export function startTestServer(): Promise<TestServer>
