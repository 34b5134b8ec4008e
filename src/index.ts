import { initLog } from './log.js'
import { fileStorage } from './storage/file.js'
import { memoryStorage } from './storage/memory.js'
import { fsStoreBackend } from './backends/fs.js'
import { memoryStoreBackend } from './backends/memory.js'
import { initStateStore } from './state-store.js'
import { catchupSubscribe, project } from './subscribe.js'

export { initLog } from './log.js'
export type { AppendOptions, EventListener, EventsOptions, InitLogOptions, Log } from './log.js'
export { fileStorage } from './storage/file.js'
export type { FileStorageOptions } from './storage/file.js'
export { memoryStorage } from './storage/memory.js'
export type { MemoryStorageOptions } from './storage/memory.js'
export type { Indexed, LogStorage, StorageAppendOptions } from './storage/types.js'
export { initStateStore } from './state-store.js'
export type { InitStateStoreOptions, StateStore } from './state-store.js'
export type { StateSnapshot, StateStoreBackend } from './backends/types.js'
export { fsStoreBackend } from './backends/fs.js'
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
  LogReplacedError,
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
  fileStorage,
  memoryStorage,
  initStateStore,
  fsStoreBackend,
  memoryStoreBackend,
  catchupSubscribe,
  project,
}
export default tinyEventSourcing
