/** The Node entry (also Bun's and Deno's): logs in NDJSON files, state snapshots in JSON files. */
import { entryFor } from './entry.js'
import { nodeEnvironment } from './file/environment.js'
import { fsStoreBackend } from './file/state-backend.js'
import { fileStorage } from './file/storage.js'

export * from './exports.js'
export { fileStorage } from './file/storage.js'
export type { FileStorageOptions } from './file/storage.js'
export { fsStoreBackend } from './file/state-backend.js'

const node = entryFor(nodeEnvironment, { fileStorage, fsStoreBackend })
export const initLog = node.initLog
export const initStateStore = node.initStateStore
/** Every function of the library on one object, for `import tinyEventSourcing from 'tiny-event-sourcing'`. */
export default node.functions
