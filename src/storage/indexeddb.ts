import { AppendConflictError, CorruptLogError, LogClosedError, LogLockedError } from '../errors.js'
import { committed, eventsStore, openDatabase, result } from '../indexeddb.js'
import { withIndex } from '../serialize.js'
import type { Indexed, LogStorage, StorageAppendOptions } from './types.js'

/** Options of `indexedDbStorage`. */
export interface IndexedDbStorageOptions {
  /** Commit each batch with IndexedDB's `durability: 'strict'` (flushed to disk) before its appends resolve. Default `false`. */
  fsync?: boolean
  /** Follow a log another tab writes: no lock is taken, appends are refused. Default `false`. */
  readOnly?: boolean
}

type StoredEvent = Indexed<Record<string, unknown>>

const readBatchSize = 1024
const corruptRemedy =
  'Fix or delete that record in the IndexedDB database "tiny-event-sourcing", object store "events" (browser developer tools, Application tab); nothing was changed'

/**
 * The IndexedDB storage behind `initLog({ filename })` in the browser build:
 * the log `name` is kept in the page's IndexedDB, one record per event, the
 * same JSON line a log file would hold. One tab at a time may write a log
 * (a Web Lock named `tiny-event-sourcing:<name>`, released when the tab
 * closes); opening it for writing elsewhere fails with `LogLockedError`.
 * Tabs following it with `readOnly: true` hear of new events over a
 * `BroadcastChannel` of the same name.
 */
export function indexedDbStorage(name: string, options: IndexedDbStorageOptions = {}): LogStorage {
  return new IndexedDbStorage(name, options.fsync ?? false, options.readOnly ?? false)
}

class IndexedDbStorage implements LogStorage {
  readonly name: string
  #readOnly: boolean
  #durability: IDBTransactionDurability
  #db: IDBDatabase | undefined
  #length = 0
  #closed = false
  #releaseLock: (() => void) | undefined
  #channel: BroadcastChannel | undefined
  /** The greatest length another tab announced, so a watcher added after the announcement still hears of it. */
  #announced = 0
  #watchers = new Set<(length: number) => void>()

  constructor(name: string, fsync: boolean, readOnly: boolean) {
    this.name = name
    this.#readOnly = readOnly
    this.#durability = fsync ? 'strict' : 'default'
  }

  #range(from: number): IDBKeyRange {
    return IDBKeyRange.bound([this.name, from], [this.name, Infinity])
  }

  async open(): Promise<number> {
    if (!this.#readOnly) await this.#lock()
    // Listening starts before the length is read, so no announcement falls in between.
    this.#channel = new BroadcastChannel(`tiny-event-sourcing:${this.name}`)
    this.#channel.onmessage = (message: MessageEvent<{ length?: unknown }>) => {
      const length = message.data?.length
      if (typeof length !== 'number' || length <= this.#announced) return
      this.#announced = length
      for (const watcher of this.#watchers) watcher(length)
    }
    try {
      this.#db = await openDatabase()
      this.#length = (await this.#lastIndex(this.#db.transaction(eventsStore).objectStore(eventsStore))) + 1
    } catch (error) {
      await this.close()
      throw error
    }
    return this.#length
  }

  /** Takes the writer's Web Lock, or fails at once with `LogLockedError` when another tab (or log in this tab) holds it. */
  async #lock(): Promise<void> {
    // Without Web Locks (an insecure http: page), each append still checks the last index inside its transaction.
    if (typeof navigator === 'undefined' || navigator.locks === undefined) return
    const lockName = `tiny-event-sourcing:${this.name}`
    const acquired = await new Promise<boolean>((resolve, reject) => {
      navigator.locks
        .request(lockName, { ifAvailable: true }, (lock) => {
          if (lock === null) return resolve(false)
          resolve(true)
          // The lock is held until close(), or until the tab goes away.
          return new Promise<void>((release) => (this.#releaseLock = release))
        })
        .catch(reject)
    })
    if (!acquired) {
      throw new LogLockedError(
        lockName,
        `tiny-event-sourcing: cannot open ${this.name} for writing: another tab or window of this site (or another log in this page) has it open for writing. ` +
          `Close that tab or call close() on its log, or open this one with { readOnly: true } to follow it`,
      )
    }
  }

  /** The last stored index (`-1` for an empty log), read inside the caller's transaction. */
  #lastIndex(store: IDBObjectStore): Promise<number> {
    return result(store.openKeyCursor(this.#range(0), 'prev')).then((cursor) => (cursor ? (cursor.key as [string, number])[1] : -1))
  }

  append(records: readonly string[], options?: StorageAppendOptions): Promise<number> {
    if (this.#closed || this.#db === undefined) return Promise.reject(new LogClosedError(this.name))
    if (this.#readOnly) return Promise.reject(new TypeError(`tiny-event-sourcing: ${this.name} is open read-only`))
    const transaction = this.#db.transaction(eventsStore, 'readwrite', { durability: this.#durability })
    const store = transaction.objectStore(eventsStore)
    const done = committed(transaction)
    // The next index comes from the store itself, inside the transaction, so
    // two writers can never give out the same index even without the lock.
    let first = -1
    let conflict: AppendConflictError | undefined
    const cursorRequest = store.openKeyCursor(this.#range(0), 'prev')
    cursorRequest.onsuccess = () => {
      const cursor = cursorRequest.result
      const last = cursor ? (cursor.key as [string, number])[1] : -1
      const expected = options?.expectedLastIndex
      if (expected !== undefined && expected !== last) {
        conflict = new AppendConflictError(this.name, expected, last)
        transaction.abort()
        return
      }
      first = last + 1
      for (let i = 0; i < records.length; i++) store.add(withIndex(records[i]!, first + i), [this.name, first + i])
    }
    return done.then(
      () => {
        const length = first + records.length
        if (length > this.#length) this.#length = length
        this.#channel?.postMessage({ length })
        return first
      },
      (error: unknown) => {
        throw conflict ?? error
      },
    )
  }

  async *read(from: number): AsyncGenerator<StoredEvent[]> {
    let expected = from
    for (;;) {
      if (this.#closed || this.#db === undefined) return
      // One short transaction per batch: IndexedDB transactions cannot stay open across the consumer's awaits.
      const store = this.#db.transaction(eventsStore).objectStore(eventsStore)
      const range = this.#range(expected)
      const [keys, values] = await Promise.all([result(store.getAllKeys(range, readBatchSize)), result(store.getAll(range, readBatchSize))])
      const batch: StoredEvent[] = []
      for (let i = 0; i < keys.length; i++) {
        const index = (keys[i] as [string, number])[1]
        if (index !== expected) {
          throw new CorruptLogError(this.name, undefined, `event ${expected} is missing (the next stored one is ${index}): events were deleted`, corruptRemedy)
        }
        batch.push(this.#parse(values[i], index))
        expected++
      }
      if (batch.length > 0) yield batch
      if (keys.length < readBatchSize) return
    }
  }

  #parse(value: unknown, index: number): StoredEvent {
    let event: unknown
    try {
      event = typeof value === 'string' ? JSON.parse(value) : undefined
    } catch {
      // Reported below.
    }
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      throw new CorruptLogError(this.name, undefined, `event ${index} is not the JSON text of an object: ${String(value).slice(0, 80)}`, corruptRemedy)
    }
    if ((event as { index?: unknown }).index !== index) {
      throw new CorruptLogError(this.name, undefined, `event ${index} says its index is ${String((event as { index?: unknown }).index)}`, corruptRemedy)
    }
    return event as StoredEvent
  }

  watch(onAppend: (length: number) => void): () => void {
    if (this.#closed) return () => {}
    this.#watchers.add(onAppend)
    if (this.#announced > this.#length) {
      const announced = this.#announced
      queueMicrotask(() => {
        if (this.#watchers.has(onAppend)) onAppend(announced)
      })
    }
    return () => {
      this.#watchers.delete(onAppend)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#watchers.clear()
    this.#channel?.close()
    this.#channel = undefined
    // The shared connection stays open for the page's other logs and stores.
    this.#db = undefined
    this.#releaseLock?.()
    this.#releaseLock = undefined
  }
}
