/**
 * The one export list of the library. `src/index.ts` (Node) and
 * `src/browser.ts` (pages) each add their technology and bind the functions
 * that depend on where they run to their environment.
 */
export type { AppendOptions, EventsOptions, InitLogOptions, Log } from './core/log.js'
export type { EventMeta, Indexed, LogStorage, StorageAppendOptions, StorageOpenOptions } from './core/log-storage.js'
export type { AppendCondition, EventFilter } from './core/filter.js'
export type { InitStateStoreOptions, StateStore } from './core/state-store.js'
export type { StateSnapshot, StateStoreBackend } from './core/state-store-backend.js'
export { catchupSubscribe, project } from './core/subscribe.js'
export type { CatchupSubscribeOptions, HandlerContext, ProjectOptions } from './core/subscribe.js'
export {
  AppendConflictError,
  CorruptLogError,
  CorruptStateError,
  FileAccessError,
  InvalidEventError,
  isTinyEventSourcingError,
  LogClosedError,
  LogLockedError,
  LogReplacedError,
  StaleVersionError,
  StateAheadOfLogError,
  StateStoreClosedError,
  TinyEventSourcingError,
  UpcastError,
  UsageError,
} from './core/errors.js'
export type {
  AnyTinyEventSourcingError,
  ConditionConflict,
  TinyEventSourcingErrorCode,
  TinyEventSourcingErrorFor,
  TinyEventSourcingErrors,
} from './core/errors.js'
export { memoryStorage } from './memory/storage.js'
export type { MemoryStorageOptions } from './memory/storage.js'
export { memoryStoreBackend } from './memory/state-backend.js'
export type { MemoryStoreBackendOptions } from './memory/state-backend.js'
