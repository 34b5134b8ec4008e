/**
 * Group commit: the appends made in one synchronous run of the program are
 * written to the storage as one batch, and each resolves once it is written.
 */

import type { EventMeta, Indexed, LogStorage, StorageAppendOptions } from './log-storage.js'

/**
 * What one call of `storage.append` writes: a run of plain appends (group
 * commit), or a run of `appendAll` batches without options (one atomic
 * write: all of it lands or none, so each batch in it does), or one append
 * or batch with storage options, written alone so its conflict fails only
 * itself.
 *
 * A burst keeps every pending append alive until its write, 200,000 at once
 * in the benchmark, and each object that outlives a young-generation
 * collection is copied by the garbage collector, twice; so per plain append
 * the queue keeps only its record, its event, its `_meta` (shared by the
 * appends of one millisecond) and its promise. That promise
 * is derived from the write's own (`done.then(deliverNext)`, one function
 * for the whole write), which costs a promise and a reaction, about a third
 * of a promise of its own with its resolve and reject functions. Reactions
 * run in the order they were added, so `deliverNext` hands out the indices
 * in call order.
 */
interface Write {
  readonly records: string[]
  readonly events: object[]
  /** The `_meta` each event resolves with (often one object shared by many); empty with `metadata: false`. */
  readonly metas: (EventMeta | undefined)[]
  options: StorageAppendOptions | undefined
  /** Resolves with the index of the first record once written; rejects with the storage's error. */
  readonly done: Promise<number>
  readonly resolve: (first: number) => void
  readonly reject: (error: unknown) => void
  /** The stored event of the next append of the run to settle, given the index of the write's first record. */
  readonly deliverNext: (first: number) => Indexed<object>
  /** How many of its appends have been settled. */
  delivered: number
  bytes: number
}

/** Upper bound of one write of a run, so a huge burst is written in steady pieces. */
const maxBatchBytes = 8 * 1024 * 1024

/** The options of a write that must survive a crash whole. */
const atomic: StorageAppendOptions = Object.freeze({ atomic: true })

/** The queue of appends waiting for their write. */
export interface AppendQueue {
  /**
   * Queues one record and resolves with `stored(event, meta, index)` once it is
   * written, or rejects with the storage's error. Without `options` it shares
   * a write with the plain appends around it; with `options` (a condition,
   * an expected last index) it is written alone, so a conflict fails only
   * itself. Records are written in the order they are queued.
   */
  add(record: string, event: object, meta: EventMeta | undefined, options: StorageAppendOptions | undefined): Promise<Indexed<object>>
  /**
   * Queues records that land together, all or none, and resolves with them
   * all as stored. Without `options` the batch shares one atomic write with
   * the batches queued beside it; with `options` (checked for the batch as a
   * whole) it is written alone.
   */
  addAll(records: string[], events: object[], meta: EventMeta | undefined, options: StorageAppendOptions | undefined): Promise<Indexed<object>[]>
  /** Resolves once everything queued so far is written or has failed. */
  drain(): Promise<void>
}

/**
 * A queue writing to `storage`. After each successful write it calls
 * `written(first, records)`, then resolves the appends in it with
 * `stored(event, meta, index)`, the event as the caller receives it.
 */
export function appendQueue(
  storage: LogStorage,
  written: (first: number, records: readonly string[]) => void,
  stored: (event: object, meta: EventMeta | undefined, index: number) => Indexed<object>,
): AppendQueue {
  const writes: Write[] = []
  /** The run of plain appends that later plain appends join, until it is taken for writing or full. */
  let open: Write | undefined
  /** The same for `appendAll` batches without options. */
  let openBatches: Write | undefined
  let writing: Promise<void> | undefined

  function queued(records: string[], events: object[], metas: (EventMeta | undefined)[], options: StorageAppendOptions | undefined): Write {
    let resolve!: (first: number) => void
    let reject!: (error: unknown) => void
    const done = new Promise<number>((resolveWrite, rejectWrite) => {
      resolve = resolveWrite
      reject = rejectWrite
    })
    const write: Write = {
      records,
      events,
      metas,
      options,
      done,
      resolve,
      reject,
      deliverNext: (first) => {
        const i = write.delivered++
        return stored(write.events[i]!, write.metas[i], first + i)
      },
      delivered: 0,
      bytes: 0,
    }
    writes.push(write)
    // Later appends must not join a run queued before this write.
    open = undefined
    openBatches = undefined
    // Deferred to a microtask so that appends made in one synchronous run
    // share a single write (group commit).
    writing ??= Promise.resolve().then(writeQueued)
    return write
  }

  async function writeQueued(): Promise<void> {
    for (let write = writes.shift(); write !== undefined; write = writes.shift()) {
      if (write === open) open = undefined
      if (write === openBatches) openBatches = undefined
      let first: number
      try {
        first = await storage.append(write.records, write.options)
      } catch (error) {
        write.reject(error)
        continue
      }
      written(first, write.records)
      write.resolve(first)
    }
    writing = undefined
  }

  return {
    add(record, event, meta, options) {
      let write = options === undefined ? open : undefined
      if (write === undefined) {
        write = queued([], [], [], options)
        if (options === undefined) open = write
      }
      write.records.push(record)
      write.events.push(event)
      write.metas.push(meta)
      if (options === undefined) {
        write.bytes += record.length
        if (write.bytes >= maxBatchBytes) open = undefined
      }
      return write.done.then(write.deliverNext)
    },
    addAll(records, events, meta, options) {
      let write: Write
      let offset = 0
      if (options !== undefined) {
        write = queued(records, events, [], records.length > 1 ? { ...options, atomic: true } : options)
      } else {
        if (openBatches === undefined) {
          openBatches = queued([], [], [], undefined)
        }
        write = openBatches
        offset = write.records.length
        for (let i = 0; i < records.length; i++) {
          write.records.push(records[i]!)
          write.bytes += records[i]!.length
        }
        // One record alone is whole by itself; more must be marked.
        if (write.records.length > 1) write.options = atomic
        if (write.bytes >= maxBatchBytes) openBatches = undefined
      }
      return write.done.then((first) => {
        const batch: Indexed<object>[] = new Array(events.length)
        for (let i = 0; i < events.length; i++) batch[i] = stored(events[i]!, meta, first + offset + i)
        return batch
      })
    },
    async drain() {
      while (writing) await writing
    },
  }
}
