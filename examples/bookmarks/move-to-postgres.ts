// Moves the bookmark service's data from its files (data/) to PostgreSQL:
// the log with every index kept, and each read model's state and version, so
// nothing is rebuilt and no page is fetched again. Run it once, with the
// service stopped.
import pg from 'pg'
import { fsStoreBackend } from 'tiny-event-sourcing'
import { importLog, postgresStoreBackend } from 'tiny-event-sourcing/postgres'

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })

const moved = await importLog({ pool, log: 'bookmarks', filename: 'data/log.ndjson' })

for (const [filename, name] of [
  ['data/read-model.json', 'bookmarks'],
  ['data/info-fetcher.json', 'info-fetcher'],
] as const) {
  const snapshot = await fsStoreBackend(filename).read()
  if (snapshot !== null) await postgresStoreBackend({ pool, name }).write(snapshot)
}

console.log(`moved ${moved} events and the read models to PostgreSQL`)
await pool.end()
