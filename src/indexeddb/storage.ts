import { AppendConflictError, CorruptLogError, LogClosedError, LogLockedError, TinyEventSourcingError, usageError } from '../core/errors.js'
import { committed, type EventRecord, eventRecord, eventsStore, result, transaction, typeIndex } from './database.js'
import { type AppendCondition, type EventFilter, matchesFilter } from '../core/filter.js'
import { withIndex } from '../core/serialize.js'
import type { Indexed, LogStorage, StorageAppendOptions, StorageOpenOptions } from '../core/log-storage.js'

/** Options of `indexedDbStorage`. */
export interface IndexedDbStorageOptions {
  /** Commit each batch with IndexedDB's `durability: 'strict'` (flushed to disk) before its appends resolve. Default `false`. */
  fsync?: boolean
}

type StoredEvent = Indexed<Record<string, unknown>>

const readBatchSize = 1024

/**
 * The IndexedDB storage behind `initLog({ filename })` in the browser build:
 * the log `name` is kept in the page's IndexedDB (database
 * `tiny-event-sourcing`, object store `events`), one record per event
 * holding the same JSON line a log file would hold, and the event's type for
 * filtered reads and conditions. One tab at a time may write a log:
 * it holds the Web Lock `tiny-event-sourcing:<name>` until `close()` or until
 * the tab goes away, and opening the log for writing meanwhile fails at once
 * with `LogLockedError`. Tabs following it with `readOnly: true` hear of new
 * events over a `BroadcastChannel` of the same name.
 *
 * Every `append` call is one IndexedDB transaction: its records (a
 * `log.appendAll()` batch, or a group of plain appends) all land or none do,
 * whether or not `atomic` is set, and a closed tab or crash keeps none of an
 * unfinished one. Its `expectedLastIndex` and `condition` are checked by
 * reads in that same transaction, before its writes; a `condition` with
 * `types` reads the type index, one without reads every event after `after`.
 * `read(from, { types })` reads the type index too; a `where` alone is left
 * to the log.
 * @throws `LogLockedError` (`LOG_LOCKED`) from `open()` when another tab writes the log;
 * `TinyEventSourcingError` `INDEXEDDB_UPGRADED` from any call once a newer copy of the library upgraded the database (reload the page);
 * `LOG_CHANGED` once the log's events were deleted under it (close it and open it again);
 * `AppendConflictError` (`APPEND_CONFLICT`) from `append` when its `expectedLastIndex` or `condition` does not hold.
 * @example
 * ```ts
 * const log = await initLog({ storage: indexedDbStorage('bookmarks') }) // as initLog({ filename: 'bookmarks' })
 * ```
 */
export function indexedDbStorage(name: string, options: IndexedDbStorageOptions = {}): LogStorage {
  /** Set by `open({ readOnly })`: follow a log another tab writes, taking no lock. */
  let readOnly = false
  const durability: IDBTransactionDurability = options.fsync ? 'strict' : 'default'
  const lockName = `tiny-event-sourcing:${name}`
  const all = (from: number) => IDBKeyRange.bound([name, from], [name, Infinity])
  const corrupt = (problem: string) =>
    new CorruptLogError(
      name,
      undefined,
      problem,
      'Fix or delete it in the developer tools (Application › IndexedDB › tiny-event-sourcing › events); nothing was changed',
    )

  let opened = false
  // How many events this storage knows the log holds: fewer in the database means they were deleted under it.
  let known = 0
  let releaseLock: (() => void) | undefined
  let channel: BroadcastChannel | undefined
  // The greatest length another tab announced, so a watcher added after the announcement still hears of it.
  let announced = 0
  let openedLength = 0
  const watchers = new Set<(length: number) => void>()

  /** Takes the writer's Web Lock, or fails at once when another tab (or another log in this one) holds it. */
  async function lock(): Promise<void> {
    // Without Web Locks (a page served over plain http: from another host) each append
    // still takes its index inside its transaction, so the log stays whole.
    if (!globalThis.navigator?.locks) return
    const acquired = await new Promise<boolean>((resolve, reject) => {
      navigator.locks
        .request(lockName, { ifAvailable: true }, (held) => {
          resolve(held !== null)
          // Held until close(), or until the tab goes away.
          if (held) return new Promise<void>((release) => (releaseLock = release))
        })
        .catch(reject)
    })
    if (!acquired) {
      throw new LogLockedError(lockName, `cannot open ${name} for writing: another tab or log has it; close() it, or pass { readOnly: true }`)
    }
  }

  /** Another tab (or the browser's site-data settings) deleted the database, and with it this log's events. */
  function deletedError(): Error {
    return new TinyEventSourcingError(
      'LOG_CHANGED',
      `the events of ${name} in IndexedDB were deleted while this log had it open with ${known} events ` +
        '(by another tab, or by clearing the site data); close() the log and open it again',
    )
  }

  function parse(value: unknown, index: number): StoredEvent {
    const line = (value as EventRecord | undefined)?.line
    let event: StoredEvent | undefined
    try {
      event = JSON.parse(line as string)
    } catch {
      // Reported below.
    }
    if (typeof line !== 'string' || event?.index !== index) {
      const shown = typeof line === 'string' ? line : (JSON.stringify(value) ?? String(value))
      throw corrupt(`event ${index} is missing or not an event with that index: ${shown.slice(0, 80)}`)
    }
    return event
  }

  /**
   * Reads the events of the given types from `from` on, in index order, through
   * the type index. Each round reads every type from the same position in one
   * transaction, and yields only up to the lowest last index of a type whose
   * batch was full: beyond it that type may have more. So no event stored
   * before the round is left out, even of a type that had none a round ago.
   */
  async function* readTypes(from: number, types: string[]): AsyncGenerator<StoredEvent[]> {
    for (let position = from; opened; ) {
      const reading = (await transaction(eventsStore)).objectStore(eventsStore).index(typeIndex)
      const batches = await Promise.all(
        types.map((type) =>
          result(reading.getAll(IDBKeyRange.bound([name, type, position], [name, type, Infinity]), readBatchSize) as IDBRequest<EventRecord[]>),
        ),
      )
      let complete = Infinity
      for (const values of batches) if (values.length === readBatchSize) complete = Math.min(complete, values[readBatchSize - 1]!.index)
      const events: StoredEvent[] = []
      for (const values of batches) {
        for (const value of values) {
          if (value.index > complete) break
          events.push(parse(value, value.index))
        }
      }
      events.sort((a, b) => a.index - b.index)
      if (events.length > 0) yield events
      if (complete === Infinity) return
      position = complete + 1
    }
  }

  /**
   * Finds, with requests in the transaction of `store`, the first event after
   * `condition.after` that matches the condition, and calls `found` with it,
   * or with `undefined` when none does. With types, each type's events are
   * scanned through the type index; without, every event after `after`.
   */
  function findFirstMatch(
    store: IDBObjectStore,
    condition: AppendCondition,
    found: (event: StoredEvent | undefined) => void,
    fail: (error: unknown) => void,
  ): void {
    const from = condition.after + 1
    const scans: [IDBObjectStore | IDBIndex, IDBKeyRange][] = condition.types
      ? [...new Set(condition.types)].map((type) => [store.index(typeIndex), IDBKeyRange.bound([name, type, from], [name, type, Infinity])])
      : [[store, all(from)]]
    let pending = scans.length
    let first: StoredEvent | undefined
    for (const [source, range] of scans) {
      const request = source.openCursor(range)
      request.onsuccess = () => {
        try {
          const cursor = request.result
          const index = cursor && (cursor.primaryKey as [string, number])[1]
          // A scan stops at its first match, or once past the earliest match another scan found.
          if (cursor && (first === undefined || index! < first.index)) {
            const event = parse(cursor.value, index!)
            if (!matchesFilter(event, condition)) {
              cursor.continue()
              return
            }
            first = event
          }
          if (--pending === 0) found(first)
        } catch (error) {
          fail(error)
        }
      }
    }
  }

  return {
    name,

    async open(openOptions?: StorageOpenOptions) {
      readOnly = openOptions?.readOnly ?? false
      if (!readOnly) await lock()
      // Listening starts before the length is read, so no announcement falls in between.
      channel = new BroadcastChannel(lockName)
      channel.onmessage = ({ data }: MessageEvent<{ length?: unknown }>) => {
        const length = data?.length
        if (typeof length !== 'number' || length <= announced) return
        announced = length
        if (length > known) known = length
        for (const watcher of watchers) watcher(length)
      }
      try {
        const last = await result((await transaction(eventsStore)).objectStore(eventsStore).openKeyCursor(all(0), 'prev'))
        known = last ? (last.key as [string, number])[1] + 1 : 0
      } catch (error) {
        await this.close()
        throw error
      }
      opened = true
      openedLength = known
      return known
    },

    async append(records: readonly string[], appendOptions?: StorageAppendOptions) {
      if (!opened) throw new LogClosedError(name)
      if (readOnly) throw usageError(`${name} is open read-only`)
      const writing = await transaction(eventsStore, 'readwrite', { durability })
      const store = writing.objectStore(eventsStore)
      const done = committed(writing)
      // The next index is read inside the transaction, so two writers can
      // never give out one index, with or without the lock.
      let first = 0
      let refusal: unknown
      const lastKey = store.openKeyCursor(all(0), 'prev')
      const refuse = (error: unknown) => {
        refusal = error
        writing.abort()
      }
      lastKey.onsuccess = () => {
        const last = lastKey.result ? (lastKey.result.key as [string, number])[1] : -1
        const expected = appendOptions?.expectedLastIndex
        const condition = appendOptions?.condition
        if (last + 1 < known) return refuse(deletedError())
        if (expected !== undefined && expected !== last) return refuse(new AppendConflictError(name, expected, last))
        const write = () => {
          first = last + 1
          for (let i = 0; i < records.length; i++) store.add(eventRecord(name, first + i, withIndex(records[i]!, first + i)), [name, first + i])
          // Commit at once, not at the end of the task: a page being left may not get there.
          writing.commit()
        }
        // The condition is read in this same transaction, before the write: no other append can come in between.
        if (condition === undefined || condition.after >= last) return write()
        findFirstMatch(
          store,
          condition,
          (event) => (event ? refuse(new AppendConflictError(name, { condition, event, actualLastIndex: last })) : write()),
          refuse,
        )
      }
      try {
        await done
      } catch (error) {
        throw refusal ?? error
      }
      if (first + records.length > known) known = first + records.length
      channel?.postMessage({ length: first + records.length })
      return first
    },

    async *read(from: number, filter?: EventFilter) {
      if (filter?.types !== undefined) {
        yield* readTypes(from, [...new Set(filter.types)])
        return
      }
      for (let expected = from; opened; ) {
        // One transaction per batch: a transaction cannot stay open while the consumer awaits.
        const values = await result((await transaction(eventsStore)).objectStore(eventsStore).getAll(all(expected), readBatchSize))
        if (values.length === 0 && expected < known) throw deletedError()
        // Each event states its index, so a deleted or misplaced record shows as a break in the sequence.
        const batch = values.map((value) => parse(value, expected++))
        if (batch.length > 0) yield batch
        if (values.length < readBatchSize) return
      }
    },

    watch(onAppend: (length: number) => void) {
      watchers.add(onAppend)
      if (announced > openedLength) queueMicrotask(() => watchers.has(onAppend) && onAppend(announced))
      return () => {
        watchers.delete(onAppend)
      }
    },

    async close() {
      watchers.clear()
      channel?.close()
      channel = undefined
      // The connection is shared with the page's other logs and stores: it stays open.
      opened = false
      releaseLock?.()
      releaseLock = undefined
    },
  }
}
