/**
 * The browser entry (the `browser` condition of the package's exports): the
 * same public names as the Node entry, with logs and state snapshots kept in
 * IndexedDB instead of files. No Node modules, no dependencies.
 */
import { entryFor } from './entry.js'
import { browserEnvironment } from './indexeddb/environment.js'
import { indexedDbStoreBackend } from './indexeddb/state-backend.js'
import { indexedDbStorage } from './indexeddb/storage.js'

export * from './exports.js'
export { indexedDbStorage } from './indexeddb/storage.js'
export type { IndexedDbStorageOptions } from './indexeddb/storage.js'
/** In a page, `fsStoreBackend(name)` keeps the snapshot in IndexedDB, so code written for Node runs unchanged. */
export { indexedDbStoreBackend, indexedDbStoreBackend as fsStoreBackend } from './indexeddb/state-backend.js'

const browser = entryFor(browserEnvironment, { indexedDbStorage, fsStoreBackend: indexedDbStoreBackend })
export const initLog = browser.initLog
export const initStateStore = browser.initStateStore
/** Every function of the library on one object, for `import tinyEventSourcing from 'tiny-event-sourcing'`. */
export default browser.functions
