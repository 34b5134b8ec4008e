import type { Environment } from '../core/environment.js'
import { usageError } from '../core/errors.js'

/**
 * What the logs and stores of the testing helpers run in: the library's own behaviour, with
 * nothing that needs Node or a page, since they are always given a storage
 * or a backend.
 */
export const testEnvironment: Environment = {
  defaultStorage() {
    throw usageError('the testing helpers open logs over a storage they are given only')
  },
  keepAlive() {
    // A follower waiting for appends keeps the runner's process alive, as in a real program.
    const timer = setInterval(() => {}, 2 ** 30)
    return () => clearInterval(timer)
  },
  onExit() {},
  warn(message) {
    console.warn(message)
  },
}
