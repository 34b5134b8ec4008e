import type { Environment } from '../core/environment.js'
import { indexedDbStorage } from './storage.js'

/** A page or a worker: logs live in IndexedDB, and nothing needs keeping alive. */
export const browserEnvironment: Environment = {
  defaultStorage: indexedDbStorage,
  keepAlive: () => () => {},
  onExit(hooks) {
    // A page being left (closed, reloaded, navigated away): IndexedDB completes the writes started now.
    // A worker has no such moment, so its stores must be closed.
    if (typeof addEventListener === 'function') addEventListener('pagehide', hooks.beforeExit)
  },
  warn(message) {
    console.warn(message)
  },
}
