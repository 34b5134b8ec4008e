import type { Environment } from './core/environment.js'
import { initLog as openLog, type InitLogOptions, type Log } from './core/log.js'
import { initStateStore as openStateStore, type InitStateStoreOptions, type StateStore } from './core/state-store.js'
import { catchupSubscribe, project } from './core/subscribe.js'
import { memoryStoreBackend } from './memory/state-backend.js'
import { memoryStorage } from './memory/storage.js'

/**
 * What an entry point adds to `exports.ts`: `initLog` and `initStateStore`
 * bound to its environment, and the default export object, which holds every
 * function, the entry's own `technology` ones included.
 */
export function entryFor<T extends object>(environment: Environment, technology: T) {
  /**
   * Opens (or creates) a log. With `{ filename }` the log is an NDJSON file
   * (in a page: an IndexedDB log of that name), one event a line.
   */
  function initLog<E extends object = Record<string, unknown>>(options: InitLogOptions<E>): Promise<Log<E>> {
    return openLog<E>(options, environment)
  }
  /**
   * Opens a state store: reads the stored snapshot from `storeBackend`, or
   * starts at version `-1` with the initial state.
   */
  function initStateStore<S>(options: InitStateStoreOptions<S>): Promise<StateStore<S>> {
    return openStateStore<S>(options, environment)
  }
  const functions = { initLog, initStateStore, ...technology, memoryStorage, memoryStoreBackend, catchupSubscribe, project }
  return { initLog, initStateStore, functions }
}
