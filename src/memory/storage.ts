import { AppendConflictError } from '../core/errors.js'
import { type AppendCondition, type EventFilter, matchesFilter, recordMayMatch } from '../core/filter.js'
import { withIndex } from '../core/serialize.js'
import type { Indexed, LogStorage, StorageAppendOptions } from '../core/log-storage.js'

/** Options of `memoryStorage`. */
export interface MemoryStorageOptions {
  /**
   * Name used in error messages.
   * @default "memory"
   */
  name?: string
}

const readBatchSize = 1024

/**
 * A log storage that keeps events in memory, for tests and throwaway
 * prototypes; it is also the reference implementation of `LogStorage`.
 * Events outlive the logs opened on it: close a log and open another on the
 * same storage to see them again. Several logs may share one instance, each
 * seeing the others' appends, as processes sharing a database would.
 *
 * @throws its `append` rejects with `AppendConflictError` (`APPEND_CONFLICT`) when `expectedLastIndex` or `condition` does not hold.
 * @example
 * const log = await initLog<BookmarkEvent>({ storage: memoryStorage({ name: 'test log' }) })
 */
export function memoryStorage(options: MemoryStorageOptions = {}): LogStorage {
  const name = options.name ?? 'memory'
  // Lines exactly as a file would hold them, so every reader gets fresh objects.
  const lines: string[] = []
  const watchers = new Set<(length: number) => void>()

  /** The first stored event after `condition.after` that matches it. */
  function firstMatchAfter(condition: AppendCondition): Indexed<Record<string, unknown>> | undefined {
    const mayMatch = recordMayMatch(condition)
    for (let i = Math.max(0, condition.after + 1); i < lines.length; i++) {
      if (!mayMatch(lines[i]!)) continue
      const event = JSON.parse(lines[i]!) as Indexed<Record<string, unknown>>
      if (matchesFilter(event, condition)) return event
    }
    return undefined
  }

  return {
    name,
    async open() {
      return lines.length
    },
    // Everything from the checks to the last push runs without an await, so
    // no other append can come in between: conditions hold atomically, and
    // a batch lands whole (there is no crash to tear it).
    async append(records: readonly string[], appendOptions?: StorageAppendOptions) {
      const expected = appendOptions?.expectedLastIndex
      if (expected !== undefined && expected !== lines.length - 1) {
        throw new AppendConflictError(name, expected, lines.length - 1)
      }
      const condition = appendOptions?.condition
      if (condition !== undefined) {
        const event = firstMatchAfter(condition)
        if (event) throw new AppendConflictError(name, { condition, event, actualLastIndex: lines.length - 1 })
      }
      const first = lines.length
      for (const record of records) lines.push(withIndex(record, lines.length))
      // Logs are told of their own appends too; they ignore lengths they know.
      for (const watcher of watchers) watcher(lines.length)
      return first
    },
    async *read(from: number, filter?: EventFilter) {
      if (filter === undefined) {
        for (let start = from; start < lines.length; start += readBatchSize) {
          yield lines.slice(start, start + readBatchSize).map((line): Indexed<Record<string, unknown>> => JSON.parse(line))
        }
        return
      }
      // Lines that cannot match are left out unparsed; the log re-checks the rest.
      const mayMatch = recordMayMatch(filter)
      for (let start = from; start < lines.length; start += readBatchSize) {
        const batch: Indexed<Record<string, unknown>>[] = []
        const end = Math.min(start + readBatchSize, lines.length)
        for (let i = start; i < end; i++) if (mayMatch(lines[i]!)) batch.push(JSON.parse(lines[i]!))
        if (batch.length > 0) yield batch
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
