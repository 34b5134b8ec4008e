import { fileStorage } from './file.js'
import type { LogStorage } from './types.js'

/**
 * The storage `initLog({ filename })` uses. The browser build swaps this
 * module for one that keeps the log in IndexedDB.
 */
export function defaultStorage(filename: string, options: { fsync: boolean; readOnly: boolean }): LogStorage {
  return fileStorage(filename, options)
}
