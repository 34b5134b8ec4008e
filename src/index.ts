import { initLog } from './log.js'
import { fileStorage } from './storage/file.js'
import { memoryStorage } from './storage/memory.js'

export { initLog } from './log.js'
export type { AppendOptions, EventListener, EventsOptions, InitLogOptions, Log } from './log.js'
export { fileStorage } from './storage/file.js'
export type { FileStorageOptions } from './storage/file.js'
export { memoryStorage } from './storage/memory.js'
export type { MemoryStorageOptions } from './storage/memory.js'
export type { Indexed, LogStorage, StorageAppendOptions } from './storage/types.js'
export {
  AppendConflictError,
  CorruptLogError,
  InvalidEventError,
  LogClosedError,
  LogLockedError,
  TinyEventSourcingError,
  UpcastError,
} from './errors.js'

/** Every function of the library on one object, for `import tinyEventSourcing from 'tiny-event-sourcing'`. */
const tinyEventSourcing = { initLog, fileStorage, memoryStorage }
export default tinyEventSourcing
