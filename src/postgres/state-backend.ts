import { parseSnapshot, serializeSnapshotInSlices } from '../core/snapshot-envelope.js'
import type { StateSnapshot, StateStoreBackend } from '../core/state-store-backend.js'
import { usageError } from '../core/errors.js'
import { checkConnectionOptions, connect, type Connection, type PostgresConnectionOptions } from './connection.js'

/** Options of `postgresStoreBackend`. */
export interface PostgresStoreBackendOptions<S> extends PostgresConnectionOptions {
  /** The read model's name: its row in the `states` table. */
  name: string
  /**
   * The state a new store starts with when nothing is stored yet.
   * @default undefined (give `initialState` to `initStateStore` instead)
   */
  initialState?: S
}

/**
 * A state-store backend that keeps a read model's snapshot in one row of the
 * `states` table, as the same envelope a file holds,
 * `{ "_version": N, "state": … }`: the state and the version it reflects are
 * replaced together by one statement, so no reader or crash sees one without
 * the other. The tables are created if missing.
 *
 * @throws `UsageError` (a `TypeError`, code `USAGE`) for options it cannot use; its `read()` rejects with
 * `CorruptStateError` (`STATE_CORRUPT`) for a row that is not a snapshot, `TinyEventSourcingError`
 * `DEPENDENCY_MISSING` for a `connectionString` without the `pg` package installed, or
 * `POSTGRES_SCHEMA_OUTDATED` for tables a newer version of this package made.
 * @example
 * const store = await initStateStore({
 *   storeBackend: postgresStoreBackend({ connectionString: process.env.DATABASE_URL, name: 'bookmarks', initialState: { byUrl: {} } }),
 * })
 */
export function postgresStoreBackend<S>(options: PostgresStoreBackendOptions<S>): StateStoreBackend<S> {
  const schema = checkConnectionOptions(options, 'postgresStoreBackend()')
  const key = options.name
  if (typeof key !== 'string' || key === '') {
    throw usageError(`postgresStoreBackend() needs { name: "read-model name" }, got ${JSON.stringify(key)}`)
  }
  const name = `PostgreSQL state ${JSON.stringify(key)} (${schema}.states)`
  // Connects on first use: a backend is made before anything is awaited.
  let connection: Promise<Connection> | undefined
  const connected = () => {
    connection ??= connect(options, schema)
    connection.catch(() => (connection = undefined))
    return connection
  }

  const backend: StateStoreBackend<S> = {
    name,
    async read(): Promise<StateSnapshot<S> | null> {
      const { pool, schema } = await connected()
      const { rows } = await pool.query(`SELECT envelope::text AS envelope FROM ${schema}.states WHERE name = $1`, [key])
      return rows.length === 0 ? null : parseSnapshot<S>(rows[0].envelope, name)
    },
    async write(snapshot: StateSnapshot<S>): Promise<void> {
      const pieces = await serializeSnapshotInSlices(snapshot)
      // One statement, so state and version change together; pg sends the text as one parameter.
      const envelope = pieces.join('').trimEnd()
      const { pool, schema } = await connected()
      await pool.query(`INSERT INTO ${schema}.states (name, envelope) VALUES ($1, $2::json) ON CONFLICT (name) DO UPDATE SET envelope = excluded.envelope`, [
        key,
        envelope,
      ])
    },
    async close(): Promise<void> {
      // Ends the pool if the backend made it from a connection string; a pool of yours stays open.
      const opened = connection
      connection = undefined
      if (opened !== undefined) await (await opened.catch(() => undefined))?.release()
    },
  }
  return options.initialState === undefined ? backend : { ...backend, initialState: options.initialState }
}
