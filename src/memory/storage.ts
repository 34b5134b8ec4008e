import { AppendConflictError } from '../core/errors.js'
import { withIndex } from '../core/serialize.js'
import type { Indexed, LogStorage, StorageAppendOptions } from '../core/log-storage.js'

/** Options of `memoryStorage`. */
export interface MemoryStorageOptions {
  /** Name used in error messages. Default `"memory"`. */
  name?: string
}

const readBatchSize = 1024

/**
 * A log storage that keeps events in memory, for tests and throwaway
 * prototypes; it is also the reference implementation of `LogStorage`.
 * Events outlive the logs opened on it: close a log and open another on the
 * same storage to see them again. Several logs may share one instance, each
 * seeing the others' appends, as processes sharing a database would.
 */
export function memoryStorage(options: MemoryStorageOptions = {}): LogStorage {
  const name = options.name ?? 'memory'
  // Lines exactly as a file would hold them, so every reader gets fresh objects.
  const lines: string[] = []
  const watchers = new Set<(length: number) => void>()

  return {
    name,
    async open() {
      return lines.length
    },
    async append(records: readonly string[], appendOptions?: StorageAppendOptions) {
      const expected = appendOptions?.expectedLastIndex
      if (expected !== undefined && expected !== lines.length - 1) {
        throw new AppendConflictError(name, expected, lines.length - 1)
      }
      const first = lines.length
      for (const record of records) lines.push(withIndex(record, lines.length))
      // Logs are told of their own appends too; they ignore lengths they know.
      for (const watcher of watchers) watcher(lines.length)
      return first
    },
    async *read(from: number) {
      for (let start = from; start < lines.length; start += readBatchSize) {
        yield lines.slice(start, start + readBatchSize).map((line): Indexed<Record<string, unknown>> => JSON.parse(line))
      }
    },
    watch(onAppend: (length: number) => void) {
      watchers.add(onAppend)
      return () => {
        watchers.delete(onAppend)
      }
    },
    async close() {},
  }
}
