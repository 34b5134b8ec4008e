/**
 * `tiny-event-sourcing/postgres`: the same log and read models over
 * PostgreSQL, shared by many processes and machines. Needs the `pg` package
 * (an optional peer dependency); the main entry never loads it.
 */
export { postgresStorage } from './storage.js'
export type { PostgresStorageOptions } from './storage.js'
export { postgresStoreBackend } from './state-backend.js'
export type { PostgresStoreBackendOptions } from './state-backend.js'
export type { PostgresClient, PostgresConnectionOptions, PostgresPool, PostgresQuery } from './connection.js'
export { exportLog, importLog } from './transfer.js'
export type { TransferOptions } from './transfer.js'
