/**
 * The browser build (the `browser` condition of the package's exports): the
 * same public names as the Node build, with logs and state snapshots kept in
 * IndexedDB instead of files. No Node modules, no dependencies.
 */
import { indexedDbStoreBackend } from './backends/indexeddb.js'
import { initLog } from './log.js'
import { indexedDbStorage } from './storage/indexeddb.js'
import { memoryStorage } from './storage/memory.js'

export { initLog } from './log.js'
export type { AppendOptions, EventListener, EventsOptions, InitLogOptions, Log } from './log.js'
export { indexedDbStorage } from './storage/indexeddb.js'
export type { IndexedDbStorageOptions } from './storage/indexeddb.js'
export { memoryStorage } from './storage/memory.js'
export type { MemoryStorageOptions } from './storage/memory.js'
export type { Indexed, LogStorage, StorageAppendOptions } from './storage/types.js'
export { indexedDbStoreBackend, indexedDbStoreBackend as fsStoreBackend } from './backends/indexeddb.js'
export type { StateSnapshot, StateStoreBackend } from './backends/types.js'
export {
  AppendConflictError,
  CorruptLogError,
  InvalidEventError,
  LogClosedError,
  LogLockedError,
  TinyEventSourcingError,
} from './errors.js'

/** Every function of the library on one object, for `import tinyEventSourcing from 'tiny-event-sourcing'`. */
const tinyEventSourcing = {
  initLog,
  indexedDbStorage,
  memoryStorage,
  fsStoreBackend: indexedDbStoreBackend,
  indexedDbStoreBackend,
}
export default tinyEventSourcing
