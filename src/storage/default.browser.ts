import { indexedDbStorage } from './indexeddb.js'
import type { LogStorage } from './types.js'

/**
 * The storage `initLog({ filename })` uses in the browser build, which puts
 * this module in place of `default.ts`: the log lives in IndexedDB under
 * that name.
 */
export function defaultStorage(filename: string, options: { fsync: boolean; readOnly: boolean }): LogStorage {
  return indexedDbStorage(filename, options)
}
