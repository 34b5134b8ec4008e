/**
 * The PostgreSQL server of a test file (see embedded-server.mjs: embedded, or
 * the external one TES_POSTGRES_URL names).
 */
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'
import { startTestServer, type TestServer } from './embedded-server.mjs'

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
    try {
      await Promise.race([Promise.allSettled(pools.map((pool) => pool.end())), new Promise((resolve) => setTimeout(resolve, 5000))])
    } finally {
      await server?.stop()
    }
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
