import { catchupSubscribe, project } from './core/subscribe.js'
import { memoryStoreBackend } from './memory/state-backend.js'
import { memoryStorage } from './memory/storage.js'

/**
 * The default export of an entry point: every function of the library on
 * one object, for `import tinyEventSourcing from 'tiny-event-sourcing'`,
 * the entry's own (bound to its environment, and its technology's) included.
 */
export function defaultExport<T extends object>(entryFunctions: T) {
  return { ...entryFunctions, memoryStorage, memoryStoreBackend, catchupSubscribe, project }
}
