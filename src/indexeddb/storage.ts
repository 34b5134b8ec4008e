import { AppendConflictError, CorruptLogError, LogClosedError, LogLockedError, TinyEventSourcingError, usageError } from '../core/errors.js'
import { committed, eventsStore, result, transaction } from './database.js'
import { withIndex } from '../core/serialize.js'
import type { Indexed, LogStorage, StorageAppendOptions } from '../core/log-storage.js'

/** Options of `indexedDbStorage`. */
export interface IndexedDbStorageOptions {
  /** Commit each batch with IndexedDB's `durability: 'strict'` (flushed to disk) before its appends resolve. Default `false`. */
  fsync?: boolean
  /** Follow a log another tab writes: no lock is taken, appends are refused. Default `false`. */
  readOnly?: boolean
}

type StoredEvent = Indexed<Record<string, unknown>>

const readBatchSize = 1024

/**
 * The IndexedDB storage behind `initLog({ filename })` in the browser build:
 * the log `name` is kept in the page's IndexedDB (database
 * `tiny-event-sourcing`, object store `events`), one record per event, the
 * same JSON line a log file would hold. One tab at a time may write a log:
 * it holds the Web Lock `tiny-event-sourcing:<name>` until `close()` or until
 * the tab goes away, and opening the log for writing meanwhile fails at once
 * with `LogLockedError`. Tabs following it with `readOnly: true` hear of new
 * events over a `BroadcastChannel` of the same name.
 */
export function indexedDbStorage(name: string, options: IndexedDbStorageOptions = {}): LogStorage {
  const readOnly = options.readOnly ?? false
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
    let event: StoredEvent | undefined
    try {
      event = JSON.parse(value as string)
    } catch {
      // Reported below.
    }
    if (typeof value !== 'string' || event?.index !== index) {
      throw corrupt(`event ${index} is missing or not an event with that index: ${String(value).slice(0, 80)}`)
    }
    return event
  }

  return {
    name,

    async open() {
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
      let refusal: Error | undefined
      const lastKey = store.openKeyCursor(all(0), 'prev')
      lastKey.onsuccess = () => {
        const last = lastKey.result ? (lastKey.result.key as [string, number])[1] : -1
        const expected = appendOptions?.expectedLastIndex
        if (last + 1 < known) refusal = deletedError()
        else if (expected !== undefined && expected !== last) refusal = new AppendConflictError(name, expected, last)
        if (refusal) {
          writing.abort()
          return
        }
        first = last + 1
        for (let i = 0; i < records.length; i++) store.add(withIndex(records[i]!, first + i), [name, first + i])
        // Commit at once, not at the end of the task: a page being left may not get there.
        writing.commit()
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

    async *read(from: number) {
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
