import type { Environment } from '../core/environment.js'
import { fileStorage } from './storage.js'

/** Node (and Bun, Deno): logs are files, and the process has exit hooks and warnings. */
export const nodeEnvironment: Environment = {
  defaultStorage: fileStorage,
  keepAlive() {
    const timer = setInterval(() => {}, 2 ** 30)
    return () => clearInterval(timer)
  },
  onExit(hooks) {
    // The event loop ran dry without close(): there is still time for ordinary writes.
    process.on('beforeExit', hooks.beforeExit)
    // process.exit(), or what beforeExit could not finish: only synchronous work runs now.
    process.on('exit', hooks.exit)
  },
  warn(message, code) {
    process.emitWarning(message, { code })
  },
}
