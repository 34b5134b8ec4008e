import { InvalidEventError, LogClosedError, UpcastError, usageError } from './errors.js'
import { serializeEvent } from './serialize.js'
import { appendQueue } from './append-queue.js'
import { recentRecords } from './recent.js'
import { type AppendCondition, checkFilter, type EventFilter, matchesFilter, recordMayMatch } from './filter.js'
import type { Environment } from './environment.js'
import type { Indexed, LogStorage, StorageAppendOptions } from './log-storage.js'

export type { Indexed, LogStorage, StorageAppendOptions } from './log-storage.js'
export type { AppendCondition, EventFilter } from './filter.js'

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

/** Options of `log.append` and `log.appendAll` (for `appendAll`, about the batch as a whole). */
export interface AppendOptions {
  /**
   * Optimistic concurrency about the whole log: append only if the log's
   * last index is still this (`-1` for an empty log); otherwise reject with
   * `AppendConflictError` and write nothing. Any append in between, about
   * anything, is a conflict; `condition` is the finer guard.
   * @default undefined (no check)
   * @throws `TypeError` (a rejection) for a value that is not an integer of -1 or more.
   */
  expectedLastIndex?: number
  /**
   * Optimistic concurrency about one entity: append only if no event
   * matching the filter (`types`, `where`) was appended after index
   * `after`; otherwise reject with `AppendConflictError` (code
   * `APPEND_CONFLICT`, its `conflictingEvent` the first match) and write
   * nothing. Checked by the storage atomically with the write, so of two
   * appends deciding about the same thing exactly one lands, while appends
   * about other things never conflict. Give as `after` the last index the
   * decision was based on, such as a read model's version. Matched against
   * events as stored (before `upcast`).
   * @default undefined (no check)
   * @throws `TypeError` (a rejection) for a filter naming no types, a `where` value that is not JSON, or an `after` that is not an index of -1 or more.
   * @example
   * ```ts
   * // Bookmark a URL unless someone bookmarked it since the read model's version.
   * await log.append(
   *   { type: 'bookmark', url },
   *   { condition: { types: ['bookmark'], where: { url }, after: store.getVersion() } },
   * )
   * ```
   */
  condition?: AppendCondition
}

/** Options of `log.events`. */
export interface EventsOptions extends EventFilter {
  /** Start after this index: the first event delivered is `after + 1`. Default `-1` (from the start). */
  after?: number
  /** Ends the iteration when aborted (the loop finishes normally). */
  signal?: AbortSignal
  /**
   * Deliver only events whose `type` is one of these, in replay and tail
   * alike. Matched against events as stored (before `upcast`).
   * @default undefined (every type)
   * @throws `TypeError` for an empty list or one that is not of strings.
   * @example
   * ```ts
   * for await (const event of log.events({ types: ['bookmark', 'info'] })) console.log(event.type, event.url)
   * ```
   */
  types?: readonly string[]
  /**
   * Deliver only events whose top-level fields equal these values, compared
   * as JSON (`{ url }` matches events with exactly that `url`). Combined
   * with `types`, an event must match both.
   * @default undefined (any field values)
   * @throws `TypeError` for a value JSON cannot carry (`undefined`, a function, a `Date`, `NaN`…), naming it.
   * @example
   * ```ts
   * for await (const event of log.events({ where: { url: 'https://example.com/' } })) console.log(event.index, event.type)
   * ```
   */
  where?: Readonly<Record<string, unknown>>
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
   * Appends several events as one batch and resolves with them as stored,
   * once written: they land with contiguous indices, in the order given, or
   * none do, across a crash too (a torn batch is set aside whole when the log
   * is opened again). `expectedLastIndex` and `condition` apply to the batch
   * as a whole. The batch keeps its place in call order among other appends.
   *
   * @throws `TypeError` (a rejection, nothing written) for an empty list or something that is not an array.
   * @throws `InvalidEventError` (code `INVALID_EVENT`, a rejection, nothing written) for any event JSON cannot carry, naming its position in the list.
   * @throws `AppendConflictError` (code `APPEND_CONFLICT`, a rejection, nothing written) when `expectedLastIndex` or `condition` does not hold.
   * @example
   * ```ts
   * const [order, payment] = await log.appendAll([
   *   { type: 'order-placed', orderId: 'o-1' },
   *   { type: 'payment-requested', orderId: 'o-1', amount: 30 },
   * ])
   * ```
   */
  appendAll(events: readonly E[], options?: AppendOptions): Promise<Indexed<E>[]>
  /**
   * An independent async iterator over the log: replays stored events in
   * order, then delivers new ones as they are appended, until the log is
   * closed, `signal` aborts or the loop breaks. With `types` or `where` it
   * delivers only the events that match, skipping the others without a
   * promise each (and, where the storage can, without reading them).
   * @throws `TypeError` for an `after` that is not an index of -1 or more, or a bad filter.
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

/** An index of the log, or -1 for "before the first event". */
function isIndex(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= -1
}

/**
 * The options the storage checks with the write, or `undefined` when there
 * are none (the append then shares a write with others). Throws a usage error
 * naming the value at fault.
 */
function storageOptionsOf({ expectedLastIndex, condition }: AppendOptions, call: string): StorageAppendOptions | undefined {
  if (expectedLastIndex === undefined && condition === undefined) return undefined
  if (expectedLastIndex !== undefined && !isIndex(expectedLastIndex)) {
    throw usageError(`${call.replace('…', 'expectedLastIndex')} takes an index of -1 or more, got ${String(expectedLastIndex)}`)
  }
  if (condition === undefined) return { expectedLastIndex }
  const where = call.replace('…', 'condition')
  if (typeof condition !== 'object' || condition === null) {
    throw usageError(`${where} takes { types?, where?, after } such as { types: ['bookmark'], where: { url }, after: 41 }, got ${String(condition)}`)
  }
  checkFilter(condition, where)
  if (!isIndex(condition.after)) {
    throw usageError(`${where}: after takes the last index the decision was based on (-1 or more), got ${String(condition.after)}`)
  }
  // A copy, so that a condition changed by the caller after the call is not the one checked.
  const { types, where: fields, after } = condition
  const checked: AppendCondition = { ...(types && { types: [...types] }), ...(fields && { where: { ...fields } }), after }
  return expectedLastIndex === undefined ? { condition: checked } : { expectedLastIndex, condition: checked }
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
  const queue = appendQueue(
    storage,
    (first, records) => {
      recent.remember(first, records)
      if (first + records.length > length) length = first + records.length
      wake()
    },
    storedEvent,
  )
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
   * `position` is the index of the next event to consider; with a `filter`,
   * events that do not match are stepped over inside one call of `next()`.
   */
  function iterate(position: number, signal: AbortSignal | undefined, filter: EventFilter | undefined): AsyncIterableIterator<Indexed<E>> {
    type Step = IteratorResult<Indexed<E>, undefined>
    const finished: Step = { value: undefined, done: true }
    // A record of the recent window that cannot match is stepped over without parsing it.
    const mayMatch = filter && recordMayMatch(filter)
    // Events read from the storage and not yet considered: batch[batchAt…].
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
    /**
     * The next matching event from this log's window of recent records, if
     * `position` is in it; `undefined` once it is not (`position` may have
     * moved past records that do not match).
     */
    const fromRecent = (): Step | undefined => {
      for (let record = recent.record(position); record !== undefined; record = recent.record(position)) {
        if (mayMatch !== undefined && !mayMatch(record)) {
          position++
          continue
        }
        const stored = JSON.parse(record) as Indexed<Record<string, unknown>> & { index: number }
        stored.index = position
        position++
        if (filter === undefined || matchesFilter(stored, filter)) return { value: deliver(stored), done: false }
      }
      return undefined
    }
    /** The next matching event of the batch read from the storage; `undefined` once the batch is used up. */
    const fromBatch = (): Step | undefined => {
      while (batchAt < batch.length) {
        const stored = batch[batchAt++]!
        position = stored.index + 1
        if (filter === undefined || matchesFilter(stored, filter)) return { value: deliver(stored), done: false }
      }
      return undefined
    }
    const advance = async (): Promise<Step> => {
      let readFrom = -1
      // The length and the wake-up of the moment the reader started: if the
      // log grows while it reads, this wake-up has fired, so a read that came
      // back short is retried at once rather than left waiting for a wake-up
      // that already happened.
      let lengthBeforeRead = length
      let wakeUpBeforeRead = changed
      for (;;) {
        if (stopped()) return end()
        if (batchAt < batch.length) {
          const batchStep = fromBatch()
          if (batchStep) return batchStep
          continue
        }
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
            // A storage that filters leaves out what does not match: what it
            // held when the read began has all been considered.
            if (filter !== undefined && position < lengthBeforeRead) position = lengthBeforeRead
            // The storage has not caught up with a length it announced: wait rather than spin.
            else if (position === readFrom) await waitForChangeOrAbort(wakeUpBeforeRead)
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
        const skippedFrom = position
        const recentStep = fromRecent()
        if (recentStep) return recentStep
        if (position !== skippedFrom) continue
        readFrom = position
        lengthBeforeRead = length
        wakeUpBeforeRead = changed
        reader = storage.read(position, filter)[Symbol.asyncIterator]()
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
            if (batchAt < batch.length) {
              const batchStep = fromBatch()
              if (batchStep) return Promise.resolve(batchStep)
            }
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
  function recordOf(event: E, _options: AppendOptions | undefined): string {
    return serializeEvent(event)
  }

  /** The event an append resolves with, once written at `index`. */
  function storedEvent(event: object, index: number): Indexed<object> {
    return { ...event, index }
  }

  /** Throws (for the caller to turn into a rejection) if appends are refused now. */
  function checkWritable(): void {
    if (closing) throw new LogClosedError(name)
    if (readOnly) throw usageError(`the log ${name} was opened with readOnly: true; append through its writer`)
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
      let record: string
      let storageOptions: StorageAppendOptions | undefined
      // Every refusal is a rejection, never a throw: callers handle one kind of failure.
      try {
        checkWritable()
        if (options !== undefined) storageOptions = storageOptionsOf(options, 'append(event, { … })')
        record = recordOf(event, options)
      } catch (error) {
        return Promise.reject(error)
      }
      return queue.add(record, event, storageOptions) as Promise<Indexed<E>>
    },
    appendAll(events: readonly E[], options?: AppendOptions): Promise<Indexed<E>[]> {
      const records: string[] = []
      let storageOptions: StorageAppendOptions | undefined
      try {
        checkWritable()
        if (!Array.isArray(events) || events.length === 0) {
          throw usageError(
            `appendAll(events) takes a non-empty array of events, got ${Array.isArray(events) ? 'an empty array' : String(events)}; nothing was written`,
          )
        }
        if (options !== undefined) storageOptions = storageOptionsOf(options, 'appendAll(events, { … })')
        for (let i = 0; i < events.length; i++) {
          try {
            records.push(recordOf(events[i]!, options))
          } catch (error) {
            if (!(error instanceof InvalidEventError)) throw error
            throw new InvalidEventError(`appendAll(events): events[${i}] refused, nothing was written: ${error.message.replace(/^tiny-event-sourcing: /, '')}`)
          }
        }
      } catch (error) {
        return Promise.reject(error)
      }
      // A batch of more than one event must survive a crash whole or not at all.
      if (records.length > 1) storageOptions = { ...storageOptions, atomic: true }
      return queue.addAll(records, events.slice(), storageOptions) as Promise<Indexed<E>[]>
    },
    events(options: EventsOptions = {}): AsyncIterableIterator<Indexed<E>> {
      const after = options.after ?? -1
      if (!isIndex(after)) {
        throw usageError(`events({ after }) takes an index of -1 or more, got ${String(options.after)}`)
      }
      const { types, where } = options
      let filter: EventFilter | undefined
      if (types !== undefined || where !== undefined) {
        filter = where === undefined ? { types } : types === undefined ? { where } : { types, where }
        checkFilter(filter, 'events()')
      }
      return iterate(after + 1, options.signal, filter)
    },
    close(): Promise<void> {
      closing ??= closeNow()
      return closing
    },
  }
}
