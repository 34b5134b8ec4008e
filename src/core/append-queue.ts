/**
 * Group commit: the appends made in one synchronous run of the program are
 * written to the storage as one batch, and each resolves once it is written.
 */

import type { Indexed, LogStorage } from './log-storage.js'

interface PendingAppend {
  record: string
  event: object
  expectedLastIndex: number | undefined
  resolve: (stored: Indexed<object>) => void
  reject: (error: unknown) => void
}

/** Upper bound of one write, so a huge burst is written in steady pieces. */
const maxBatchBytes = 8 * 1024 * 1024

/** The queue of appends waiting for their write. */
export interface AppendQueue {
  /**
   * Queues one record and resolves with `{ ...event, index }` once it is
   * written, or rejects with the storage's error. Records are written in the
   * order they are queued.
   */
  add(record: string, event: object, expectedLastIndex: number | undefined): Promise<Indexed<object>>
  /** Resolves once everything queued so far is written or has failed. */
  drain(): Promise<void>
}

/**
 * A queue writing to `storage`; `written(first, records)` is called after
 * each successful write, before the appends in it resolve.
 */
export function appendQueue(storage: LogStorage, written: (first: number, records: readonly string[]) => void): AppendQueue {
  const queue: PendingAppend[] = []
  let writing: Promise<void> | undefined

  async function writeQueued(): Promise<void> {
    while (queue.length > 0) {
      const batch = takeBatch()
      const records = batch.map((pending) => pending.record)
      const expectedLastIndex = batch[0]!.expectedLastIndex
      try {
        const first = await storage.append(records, expectedLastIndex === undefined ? undefined : { expectedLastIndex })
        written(first, records)
        for (let i = 0; i < batch.length; i++) {
          const pending = batch[i]!
          pending.resolve({ ...pending.event, index: first + i })
        }
      } catch (error) {
        for (const pending of batch) pending.reject(error)
      }
    }
    writing = undefined
  }

  /** Takes the next batch off the queue; an append with `expectedLastIndex` travels alone so a conflict fails only itself. */
  function takeBatch(): PendingAppend[] {
    let count = 0
    let bytes = 0
    while (count < queue.length) {
      const pending = queue[count]!
      if (pending.expectedLastIndex !== undefined) {
        if (count === 0) count = 1
        break
      }
      bytes += pending.record.length
      count++
      if (bytes >= maxBatchBytes) break
    }
    return queue.splice(0, count)
  }

  return {
    add(record, event, expectedLastIndex) {
      return new Promise<Indexed<object>>((resolve, reject) => {
        queue.push({ record, event, expectedLastIndex, resolve, reject })
        // Deferred to a microtask so that appends made in one synchronous run
        // share a single write (group commit).
        writing ??= Promise.resolve().then(writeQueued)
      })
    },
    async drain() {
      while (writing) await writing
    },
  }
}
