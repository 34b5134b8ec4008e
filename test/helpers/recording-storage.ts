import type { LogStorage } from '../../src/index.js'

/**
 * A storage that passes everything to `inner` and records what the log asks
 * of it: the size of every batch it appends and where every read starts.
 */
export function recordingStorage(inner: LogStorage): LogStorage & { batches: number[]; reads: number[] } {
  const batches: number[] = []
  const reads: number[] = []
  return {
    name: inner.name,
    batches,
    reads,
    open: (options) => inner.open(options),
    append(records, options) {
      batches.push(records.length)
      return inner.append(records, options)
    },
    read(from, filter) {
      reads.push(from)
      return inner.read(from, filter)
    },
    close: () => inner.close(),
  }
}
