import { LogClosedError, UpcastError, usageError } from './errors.js'
import { serializeEvent } from './serialize.js'
import { appendQueue } from './append-queue.js'
import { recentRecords } from './recent.js'
import type { Environment } from './environment.js'
import type { Indexed, LogStorage } from './log-storage.js'

export type { Indexed, LogStorage, StorageAppendOptions } from './log-storage.js'

/** Options of `initLog`. Give a `filename`, or a `storage` of your own. */
export interface InitLogOptions {
  /** Path of the NDJSON file holding the log (in the browser: the IndexedDB name). Missing folders are created. */
  filename?: string
  /** Where to keep the log instead of a file, e.g. `memoryStorage()`. */
  storage?: LogStorage
  /** Resolve each append only once it is flushed to disk (one `fdatasync` per batch). Default `false`. */
  fsync?: boolean
  /** Follow a log another process writes: no lock is taken, appends are refused. Default `false`. */
  readOnly?: boolean
  /**
   * Turns a stored event of an older shape into the current one as it is read,
   * so events can be reshaped without rewriting the log. Receives the stored
   * object (with `index`) and returns the event to deliver; the `index` is kept.
   * If it throws or returns a non-object, the iteration ends with an `UpcastError`.
   */
  upcast?: (stored: Indexed<Record<string, unknown>>) => Record<string, unknown>
}

/** Options of `log.append`. */
export interface AppendOptions {
  /**
   * Optimistic concurrency: append only if the log's last index is still this
   * (`-1` for an empty log); otherwise reject with `AppendConflictError`.
   */
  expectedLastIndex?: number
}

/** Options of `log.events`. */
export interface EventsOptions {
  /** Start after this index: the first event delivered is `after + 1`. Default `-1` (from the start). */
  after?: number
  /** Ends the iteration when aborted (the loop finishes normally). */
  signal?: AbortSignal
}

/** An append-only log of events of type `E`. */
export interface Log<E> {
  /** Where the log lives (its file name, or its storage's name). */
  readonly name: string
  /** How many events the log holds; the next append gets this index. */
  readonly length: number
  /**
   * Appends an event and resolves with it as stored, `index` included, once it
   * is written (and flushed, with `fsync: true`). Appends land in call order
   * with contiguous indices, awaited or not. Rejects with `InvalidEventError`
   * (nothing written, no index used) for a value JSON cannot carry faithfully.
   */
  append(event: E, options?: AppendOptions): Promise<Indexed<E>>
  /**
   * An independent async iterator over the log: replays stored events in
   * order, then delivers new ones as they are appended, until the log is
   * closed, `signal` aborts or the loop breaks.
   */
  events(options?: EventsOptions): AsyncIterableIterator<Indexed<E>>
  /** Writes what is pending, ends every iterator and releases the storage. Later appends reject; calling it twice is harmless. */
  close(): Promise<void>
}

/**
 * Opens (or creates) a log. With `{ filename }` the log is an NDJSON file,
 * one event a line, each carrying its `index`.
 */
export async function initLog<E extends object = Record<string, unknown>>(options: InitLogOptions, environment: Environment): Promise<Log<E>> {
  const storage = options?.storage ?? storageFor(options, environment)
  const length = await storage.open()
  return createLog<E>(storage, length, options, environment)
}

function storageFor(options: InitLogOptions, { defaultStorage }: Environment): LogStorage {
  if (typeof options?.filename !== 'string' || options.filename === '') {
    throw usageError('initLog() needs { filename } or { storage }')
  }
  return defaultStorage(options.filename, { fsync: options.fsync ?? false, readOnly: options.readOnly ?? false })
}

/**
 * The log over an opened storage holding `length` events. Its state lives in
 * this closure rather than in a class's private fields: a minifier shortens a
 * local variable to a letter, while every private field access keeps its `this.#`.
 */
function createLog<E extends object>(storage: LogStorage, length: number, { readOnly = false, upcast }: InitLogOptions, { keepAlive }: Environment): Log<E> {
  const name = storage.name
  let closed = false
  /** Why the storage can no longer deliver what is written next (a followed file replaced): iterators end with it. */
  let failure: Error | undefined
  let closing: Promise<void> | undefined
  // Records this log wrote last: iterators that keep up are served from
  // here instead of reading the storage again.
  const recent = recentRecords(length)
  const queue = appendQueue(storage, (first, records) => {
    recent.remember(first, records)
    if (first + records.length > length) length = first + records.length
    wake()
  })
  // Resolved (and replaced) whenever the log grows or closes: one promise
  // wakes every waiting iterator.
  let wakeUp!: () => void
  let changed!: Promise<void>
  // A follower's iterators wait for appends made elsewhere, so while one
  // waits the process is kept alive, as a pending socket read would keep it.
  let waiting = 0
  let release: (() => void) | undefined

  renewWakeUp()
  const stopWatching = storage.watch?.(
    (newLength) => {
      if (newLength > length) {
        length = newLength
        wake()
      }
    },
    (error) => {
      failure = error
      wake()
    },
  )

  function renewWakeUp(): void {
    changed = new Promise<void>((resolve) => {
      wakeUp = resolve
    })
  }

  function wake(): void {
    const wakeUpNow = wakeUp
    renewWakeUp()
    wakeUpNow()
  }

  /**
   * A hand-written async iterator rather than an async generator: it serves
   * the events of a batch already read with one resolved promise each, which
   * costs less than half of a generator's suspend and resume per event.
   * `position` is the index of the next event to deliver.
   */
  function iterate(position: number, signal: AbortSignal | undefined): AsyncIterableIterator<Indexed<E>> {
    type Step = IteratorResult<Indexed<E>, undefined>
    const finished: Step = { value: undefined, done: true }
    // Events read from the storage and not yet delivered: batch[batchAt…].
    let batch: Indexed<Record<string, unknown>>[] = []
    let batchAt = 0
    let reader: AsyncIterator<Indexed<Record<string, unknown>>[]> | undefined
    let ended = false
    // The step in progress: later calls of next() wait for it, as with a generator.
    let pending: Promise<Step> | undefined
    const stopped = () => ended || closed || signal?.aborted === true
    // An abort wakes every waiting iterator; this one then sees its signal and ends.
    // (Racing each wait against an abort promise would pile reactions onto it.)
    // Listened to from the first wait until the iteration ends.
    let onAbort: (() => void) | undefined
    const waitForChangeOrAbort = (wakeUp: Promise<void>) => {
      if (signal && !onAbort) {
        onAbort = () => wake()
        signal.addEventListener('abort', onAbort, { once: true })
      }
      return waitForChange(wakeUp)
    }
    const stopReading = async () => {
      const current = reader
      reader = undefined
      batch = []
      await current?.return?.()
    }
    const end = async (): Promise<Step> => {
      ended = true
      if (onAbort) signal!.removeEventListener('abort', onAbort)
      await stopReading()
      return finished
    }
    /** The next event from this log's window of recent records, if `position` is in it. */
    const fromRecent = (): Step | undefined => {
      const record = recent.record(position)
      if (record === undefined) return undefined
      const stored = JSON.parse(record) as Record<string, unknown>
      stored.index = position
      position++
      return { value: deliver(stored as Indexed<Record<string, unknown>>), done: false }
    }
    const fromBatch = (): Step => {
      const stored = batch[batchAt++]!
      position = stored.index + 1
      return { value: deliver(stored), done: false }
    }
    const advance = async (): Promise<Step> => {
      let readFrom = -1
      // The wake-up of the moment the reader started: if the log grows while
      // it reads, this one has fired, so a read that came back short is retried
      // at once rather than left waiting for a wake-up that already happened.
      let wakeUpBeforeRead = changed
      for (;;) {
        if (stopped()) return end()
        if (batchAt < batch.length) return fromBatch()
        if (failure) throw failure
        if (reader) {
          // Caught up with what this log wrote itself: memory is faster.
          if (recent.record(position) !== undefined) {
            await stopReading()
            continue
          }
          const result = await reader.next()
          if (stopped()) return end()
          if (result.done) {
            reader = undefined
            // The storage has not caught up with a length it announced: wait rather than spin.
            if (position === readFrom) await waitForChangeOrAbort(wakeUpBeforeRead)
            continue
          }
          batch = result.value
          batchAt = 0
          continue
        }
        if (position >= length) {
          await waitForChangeOrAbort(changed)
          continue
        }
        const recentStep = fromRecent()
        if (recentStep) return recentStep
        readFrom = position
        wakeUpBeforeRead = changed
        reader = storage.read(position)[Symbol.asyncIterator]()
      }
    }
    /** Runs advance() as the step in progress; `thrown` is an error the fast path of next() met, to end the iteration with. */
    const step = async (thrown?: { error: unknown }): Promise<Step> => {
      try {
        if (thrown) throw thrown.error
        return await advance()
      } catch (error) {
        await end().catch(() => {})
        // A read cut short by close() ends the iteration like any other iterator.
        if (closed) return finished
        throw error
      } finally {
        pending = undefined
      }
    }
    const iterator: AsyncIterableIterator<Indexed<E>> = {
      next: (): Promise<Step> => {
        if (pending) return pending.then(iterator.next, iterator.next)
        // Fast paths, without an async function's extra promises. An upcast
        // that throws here still ends the iteration with a rejected promise.
        if (!stopped()) {
          try {
            if (batchAt < batch.length) return Promise.resolve(fromBatch())
            if (reader === undefined && position < length) {
              const recentStep = fromRecent()
              if (recentStep) return Promise.resolve(recentStep)
            }
          } catch (error) {
            pending = step({ error })
            return pending
          }
        }
        pending = step()
        return pending
      },
      return: async (): Promise<Step> => {
        return end()
      },
      [Symbol.asyncIterator]() {
        return iterator
      },
    }
    return iterator
  }

  /**
   * Resolves at `wakeUp`: the next append, close or abort after the moment it
   * was taken from `changed`. Take it right when checking the length, with no
   * await in between, so that no wake-up is missed.
   */
  async function waitForChange(wakeUp: Promise<void>): Promise<void> {
    if (readOnly && waiting++ === 0) release = keepAlive()
    try {
      await wakeUp
    } finally {
      if (readOnly && --waiting === 0) release?.()
    }
  }

  function deliver(stored: Indexed<Record<string, unknown>>): Indexed<E> {
    if (upcast === undefined) return stored as unknown as Indexed<E>
    const index = stored.index
    let upcasted: unknown
    try {
      upcasted = upcast(stored)
    } catch (error) {
      throw new UpcastError(name, index, `threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
    }
    if (typeof upcasted !== 'object' || upcasted === null || Array.isArray(upcasted)) {
      throw new UpcastError(name, index, `returned ${Array.isArray(upcasted) ? 'an array' : String(upcasted)} instead of an event object`)
    }
    return { ...upcasted, index } as unknown as Indexed<E>
  }

  /**
   * Builds the text a storage keeps for `event` (its JSON, without `index`):
   * the one step of an append that decides what a record holds. Throws
   * `InvalidEventError` before anything is queued, so a bad event uses no index.
   */
  function recordOf(event: E): string {
    return serializeEvent(event)
  }

  async function closeNow(): Promise<void> {
    // Appends already made are written; only later ones are refused.
    await queue.drain()
    closed = true
    stopWatching?.()
    wake()
    recent.clear()
    await storage.close()
  }

  return {
    name,
    get length() {
      return length
    },
    append(event: E, options?: AppendOptions): Promise<Indexed<E>> {
      const expectedLastIndex = options?.expectedLastIndex
      let record: string
      // Every refusal is a rejection, never a throw: callers handle one kind of failure.
      try {
        if (closing) throw new LogClosedError(name)
        if (readOnly) {
          throw usageError(`the log ${name} was opened with readOnly: true; append through its writer`)
        }
        if (expectedLastIndex !== undefined && !(Number.isInteger(expectedLastIndex) && expectedLastIndex >= -1)) {
          throw usageError(`append(event, { expectedLastIndex }) takes an index of -1 or more, got ${String(expectedLastIndex)}`)
        }
        record = recordOf(event)
      } catch (error) {
        return Promise.reject(error)
      }
      return queue.add(record, event, expectedLastIndex) as Promise<Indexed<E>>
    },
    events(options: EventsOptions = {}): AsyncIterableIterator<Indexed<E>> {
      const after = options.after ?? -1
      if (!Number.isInteger(after) || after < -1) {
        throw usageError(`events({ after }) takes an index of -1 or more, got ${String(options.after)}`)
      }
      return iterate(after + 1, options.signal)
    },
    close(): Promise<void> {
      closing ??= closeNow()
      return closing
    },
  }
}
