/**
 * The browser entry (the `browser` condition of the package's exports): the
 * same public names as the Node entry, with logs and state snapshots kept in
 * IndexedDB instead of files. No Node modules, no dependencies.
 */
import { initLog as openLog, type InitLogOptions, type Log } from './core/log.js'
import { initStateStore as openStateStore, type InitStateStoreOptions, type StateStore } from './core/state-store.js'
import { defaultExport } from './entry.js'
import { browserEnvironment } from './indexeddb/environment.js'
import { indexedDbStoreBackend } from './indexeddb/state-backend.js'
import { indexedDbStorage } from './indexeddb/storage.js'

export * from './exports.js'
export { indexedDbStorage } from './indexeddb/storage.js'
export type { IndexedDbStorageOptions } from './indexeddb/storage.js'
/** In a page, `fsStoreBackend(name)` keeps the snapshot in IndexedDB, so code written for Node runs unchanged. */
export { indexedDbStoreBackend, indexedDbStoreBackend as fsStoreBackend } from './indexeddb/state-backend.js'

/**
 * Opens (or creates) a log. In a page, `{ filename }` names a log kept in
 * IndexedDB; one tab writes it, others may follow it with `readOnly: true`.
 *
 * @throws (rejects with) `UsageError` (a `TypeError`, code `USAGE`) for options it cannot use, naming them;
 * `LogLockedError` (`LOG_LOCKED`) when another tab writes the log (open it with `readOnly: true` to follow it);
 * `CorruptLogError` (`LOG_CORRUPT`) for a stored line that is not an event, naming the log and index;
 * `TinyEventSourcingError` `INDEXEDDB_UNAVAILABLE` where the page has no IndexedDB.
 * @example
 * const log = await initLog<BookmarkEvent>({ filename: 'bookmarks' })
 */
export function initLog<E extends object = Record<string, unknown>>(options: InitLogOptions<E>): Promise<Log<E>> {
  return openLog<E>(options, browserEnvironment)
}

/**
 * Opens a state store: reads the stored snapshot from `storeBackend`, or
 * starts at version `-1` with the initial state. The latest state is written
 * within `writeInterval`, on `flush()` and `close()`, and when the page is left.
 *
 * @throws (rejects with) `UsageError` (a `TypeError`, code `USAGE`) without a `storeBackend` or an initial state;
 * `CorruptStateError` (`STATE_CORRUPT`, the stored data left as it is) when the snapshot cannot be read.
 * @example
 * const store = await initStateStore({ storeBackend: fsStoreBackend('bookmarks', { byUrl: {} }) })
 */
export function initStateStore<S>(options: InitStateStoreOptions<S>): Promise<StateStore<S>> {
  return openStateStore<S>(options, browserEnvironment)
}

export default defaultExport({ initLog, initStateStore, indexedDbStorage, fsStoreBackend: indexedDbStoreBackend })
