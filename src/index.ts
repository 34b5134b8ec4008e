/** The Node entry (also Bun's and Deno's): logs in NDJSON files, state snapshots in JSON files. */
import { initLog as openLog, type InitLogOptions, type Log } from './core/log.js'
import { initStateStore as openStateStore, type InitStateStoreOptions, type StateStore } from './core/state-store.js'
import { defaultExport } from './entry.js'
import { nodeEnvironment } from './file/environment.js'
import { fsStoreBackend } from './file/state-backend.js'
import { fileStorage } from './file/storage.js'

export * from './exports.js'
export { fileStorage } from './file/storage.js'
export type { FileStorageOptions } from './file/storage.js'
export { fsStoreBackend } from './file/state-backend.js'

/**
 * Opens (or creates) a log. With `{ filename }` the log is an NDJSON file,
 * one event a line; missing folders are created.
 *
 * @example
 * const log = await initLog<BookmarkEvent>({ filename: 'data/log.ndjson' })
 */
export function initLog<E extends object = Record<string, unknown>>(options: InitLogOptions<E>): Promise<Log<E>> {
  return openLog<E>(options, nodeEnvironment)
}

/**
 * Opens a state store: reads the stored snapshot from `storeBackend`, or
 * starts at version `-1` with the initial state. The latest state is written
 * within `writeInterval`, on `flush()` and `close()`, and when the process exits.
 *
 * @example
 * const store = await initStateStore({ storeBackend: fsStoreBackend('data/bookmarks.json', { byUrl: {} }) })
 */
export function initStateStore<S>(options: InitStateStoreOptions<S>): Promise<StateStore<S>> {
  return openStateStore<S>(options, nodeEnvironment)
}

export default defaultExport({ initLog, initStateStore, fileStorage, fsStoreBackend })
