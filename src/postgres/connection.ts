/**
 * How the PostgreSQL storages reach the database: through a `pg` Pool the
 * user passes (or one made from a connection string), with the tables they
 * share created or migrated on first use (see `schema.ts`).
 */

import { TinyEventSourcingError, usageError } from '../core/errors.js'
import { ensureTables } from './schema.js'

/** The part of a `pg` client this package uses. A `pg.PoolClient` is one. */
export interface PostgresClient {
  // biome-ignore lint/suspicious/noExplicitAny: rows are whatever the query selects
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>
  /** Returns the client to its pool; with an error (or `true`) the connection is closed instead. */
  release(error?: Error | boolean): void
  /** Optional: lets the process exit while this connection is all that is left (`pg` clients have it). */
  unref?(): void
  /** Optional: undoes `unref()`. */
  ref?(): void
  on(event: 'notification', listener: (message: { channel: string; payload?: string | undefined }) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  // biome-ignore lint/suspicious/noExplicitAny: rows are whatever the query selects
  removeListener(event: 'notification' | 'error', listener: (...args: any[]) => void): unknown
}

/** A query as `pg` takes it: with a `name`, it is prepared once per connection and reused. */
export interface PostgresQuery {
  name?: string
  text: string
  values?: unknown[]
}

/**
 * The part of a `pg` Pool this package uses: one-statement queries, and a
 * dedicated client for `LISTEN` and for creating the tables. A `pg.Pool` is
 * one; so is any pool with the same methods.
 */
export interface PostgresPool {
  // biome-ignore lint/suspicious/noExplicitAny: rows are whatever the query selects
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>
  // biome-ignore lint/suspicious/noExplicitAny: rows are whatever the query selects
  query(query: PostgresQuery): Promise<{ rows: any[] }>
  connect(): Promise<PostgresClient>
  end(): Promise<void>
}

/** How to reach the database: a pool of yours, or a connection string. */
export interface PostgresConnectionOptions {
  /**
   * A `pg` Pool to use. It stays yours: closing the log or store leaves it open.
   * @default undefined (give `connectionString` instead; exactly one of the two is needed)
   * @example
   * const storage = postgresStorage({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }), log: 'orders' })
   */
  pool?: PostgresPool
  /**
   * Or a connection string (`postgres://user:password@host:5432/db`): a pool is made with `pg` and ended on close.
   * @default undefined (give `pool` instead; exactly one of the two is needed)
   */
  connectionString?: string
  /**
   * The schema holding the tables, created if missing.
   * @default "tiny_event_sourcing"
   */
  schema?: string
}

/** A pool to use, and what to do when done with it. */
export interface Connection {
  pool: PostgresPool
  /** The schema name, quoted for use in SQL text. */
  schema: string
  /** The schema name as given, for messages and the notification channel. */
  schemaName: string
  /** Ends the pool if this package made it. */
  release(): Promise<void>
}

const defaultSchema = 'tiny_event_sourcing'

/** Quotes an identifier for SQL text (`a"b` → `"a""b"`). */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** Checks the options naming `what` (for messages) and finds out which schema they use, before anything connects. */
export function checkConnectionOptions(options: PostgresConnectionOptions | undefined, what: string): string {
  if (typeof options !== 'object' || options === null) {
    throw usageError(`${what} needs options such as { pool } or { connectionString }`)
  }
  const hasPool = options.pool !== undefined
  const hasString = options.connectionString !== undefined
  if (hasPool === hasString) {
    throw usageError(`${what} needs exactly one of { pool } (a pg Pool) or { connectionString: "postgres://…" }, got ${hasPool ? 'both' : 'neither'}`)
  }
  if (hasPool && (typeof options.pool!.query !== 'function' || typeof options.pool!.connect !== 'function')) {
    throw usageError(`${what}: { pool } must be a pg Pool (with query() and connect())`)
  }
  if (hasString && (typeof options.connectionString !== 'string' || options.connectionString === '')) {
    throw usageError(`${what}: { connectionString } must be a non-empty string such as "postgres://user:password@localhost:5432/db"`)
  }
  const schema = options.schema ?? defaultSchema
  if (typeof schema !== 'string' || schema === '' || schema.length > 40) {
    throw usageError(`${what}: { schema } must be a name of 1 to 40 characters, got ${JSON.stringify(schema)}`)
  }
  return schema
}

/** Opens the connection the options describe: the user's pool as it is, or a new `pg` pool (loading `pg` only now). */
export async function connect(options: PostgresConnectionOptions, schema: string): Promise<Connection> {
  let pool: PostgresPool
  let owned = false
  if (options.pool !== undefined) {
    pool = options.pool
  } else {
    let Pool: typeof import('pg').Pool
    try {
      Pool = (await import('pg')).default.Pool
    } catch (error) {
      throw new TinyEventSourcingError('DEPENDENCY_MISSING', '{ connectionString } needs the "pg" package; install it with `npm install pg`', {
        cause: error,
      })
    }
    // Idle connections must not keep the process alive: a state backend has no close().
    const ownPool = new Pool({ connectionString: options.connectionString, allowExitOnIdle: true })
    // An idle connection that drops is replaced on the next query; without a
    // listener its error would crash the process.
    ownPool.on('error', () => {})
    pool = ownPool as unknown as PostgresPool
    owned = true
  }
  const connection: Connection = {
    pool,
    schema: quoteIdentifier(schema),
    schemaName: schema,
    release: async () => {
      if (owned) await pool.end()
    },
  }
  try {
    await ensureTables(pool, connection)
  } catch (error) {
    await connection.release()
    throw error
  }
  return connection
}

/**
 * A named query for `text`, so that the server parses and plans it once per
 * connection instead of on every call (for the append statement, planning
 * costs more than running it). The name is derived from the text, so that
 * different texts (other schemas) never share one.
 */
export function prepared(text: string): { name: string; text: string } {
  let hash = 5381
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 33) ^ text.charCodeAt(i)) >>> 0
  return { name: `tiny_event_sourcing_${hash.toString(36)}_${text.length}`, text }
}
