/**
 * The browser build (the `browser` condition of the package's exports): the
 * same public names as the Node build, with logs and state snapshots kept in
 * IndexedDB instead of files. No Node modules, no dependencies.
 */
import { indexedDbStoreBackend } from './backends/indexeddb.js'
import { memoryStoreBackend } from './backends/memory.js'
import { initLog } from './log.js'
import { initStateStore } from './state-store.js'
import { indexedDbStorage } from './storage/indexeddb.js'
import { memoryStorage } from './storage/memory.js'
import { catchupSubscribe, project } from './subscribe.js'

export { initLog } from './log.js'
export type { AppendOptions, EventListener, EventsOptions, InitLogOptions, Log } from './log.js'
export { indexedDbStorage } from './storage/indexeddb.js'
export type { IndexedDbStorageOptions } from './storage/indexeddb.js'
export { memoryStorage } from './storage/memory.js'
export type { MemoryStorageOptions } from './storage/memory.js'
export type { Indexed, LogStorage, StorageAppendOptions } from './storage/types.js'
export { initStateStore } from './state-store.js'
export type { InitStateStoreOptions, StateStore } from './state-store.js'
export type { StateSnapshot, StateStoreBackend } from './backends/types.js'
export { indexedDbStoreBackend, indexedDbStoreBackend as fsStoreBackend } from './backends/indexeddb.js'
export { memoryStoreBackend } from './backends/memory.js'
export type { MemoryStoreBackendOptions } from './backends/memory.js'
export { catchupSubscribe, project } from './subscribe.js'
export type { CatchupSubscribeOptions, ProjectOptions } from './subscribe.js'
export {
  AppendConflictError,
  CorruptLogError,
  InvalidEventError,
  LogClosedError,
  LogLockedError,
  TinyEventSourcingError,
  StaleVersionError,
  CorruptStateError,
  StateStoreClosedError,
  StateAheadOfLogError,
  UpcastError,
} from './errors.js'

/** Every function of the library on one object, for `import tinyEventSourcing from 'tiny-event-sourcing'`. */
const tinyEventSourcing = {
  initLog,
  indexedDbStorage,
  memoryStorage,
  initStateStore,
  fsStoreBackend: indexedDbStoreBackend,
  memoryStoreBackend,
  catchupSubscribe,
  project,
}
export default tinyEventSourcing
