import { CorruptLogError, InvalidEventError, LogClosedError, UpcastError, usageError } from './errors.js'
import { type AppendClock, appendClock, storedTimeMs } from './event-meta.js'
import { rememberSource } from './event-source.js'
import { serializeEvent } from './serialize.js'
import { appendQueue } from './append-queue.js'
import { recentRecords } from './recent.js'
import { type AppendCondition, checkFilter, type EventFilter, matchesFilter, recordMayMatch } from './filter.js'
import type { Environment } from './environment.js'
import type { EventMeta, Indexed, LogStorage, StorageAppendOptions } from './log-storage.js'

export type { Indexed, LogStorage, StorageAppendOptions } from './log-storage.js'
export type { AppendCondition, EventFilter } from './filter.js'

/**
 * Options of `initLog`. Give a `filename`, or a `storage` of your own. `E` is
 * the log's event type, which `upcast` must return; options written without
 * it (`InitLogOptions`) fit a log of any event type.
 */
// biome-ignore lint/suspicious/noExplicitAny: options typed without an event type must still fit initLog<E>() for every E
export interface InitLogOptions<E extends object = any> {
  /**
   * Path of the NDJSON file holding the log (in the browser: the IndexedDB name). Missing folders are created.
   * @default undefined (give `storage` instead; one of the two is needed)
   */
  filename?: string
  /**
   * Where to keep the log instead of a file, e.g. `memoryStorage()`. Its own options (such as `fileStorage(name, { fsync })`) go to it.
   * @default undefined (the file storage for `filename`: `fileStorage(filename)`, in a page `indexedDbStorage(filename)`)
   * @example
   * const log = await initLog({ storage: memoryStorage() })
   */
  storage?: LogStorage
  /**
   * With `filename`: resolve each append only once it is flushed to disk (one
   * `fdatasync` per batch). With a `storage`, give it to the storage instead,
   * e.g. `fileStorage(name, { fsync: true })`.
   * @default false
   */
  fsync?: boolean
  /**
   * Follow a log another process writes, with any storage: the storage is
   * opened read-only (no lock is taken, nothing stored is changed) and appends
   * are refused.
   * @default false
   */
  readOnly?: boolean
  /**
   * Turns a stored event of an older shape into the current one, `E`, as it
   * is read, so events can be reshaped without rewriting the log. Receives the
   * stored object (with `index` and `_meta`) and returns the event to deliver;
   * the stored `index` and `_meta` are kept, whatever it returns. If it throws
   * or returns a non-object, the iteration ends with an `UpcastError`.
   * Annotate `stored` with the shapes the log really holds (e.g.
   * `Indexed<DomainEvent | OldBookmarkEvent>`) to have them narrowed rather
   * than cast.
   * @default undefined (events are delivered as stored)
   * @example
   * ```ts
   * const log = await initLog<BookmarkEvent>({
   *   filename: 'data/log.ndjson',
   *   upcast: (stored) => (stored.type === 'bookmarked' ? { ...stored, type: 'bookmark' } : stored) as BookmarkEvent,
   * })
   * ```
   */
  // biome-ignore lint/suspicious/noExplicitAny: what a log holds is not typed, and `any` lets `stored` be annotated with the shapes it has (an interface is no Record<string, unknown>)
  upcast?(stored: Indexed<Record<string, any>>): E
  /**
   * Store `_meta` with every appended event: when it was appended (`at`), and
   * what caused it (`causedBy`, `correlationId`, from the append's options).
   * `false` writes 0.2.x's exact lines, the event's fields and `index` only;
   * `causedBy` and `correlationId` are then refused. Either way, events
   * already stored are read as they are, with or without `_meta`.
   * @default true
   * @example
   * const log = await initLog({ filename: 'data/log.ndjson', metadata: false })
   */
  metadata?: boolean
}

/** Options of `log.append` and `log.appendAll` (for `appendAll`, about the batch as a whole). */
export interface AppendOptions {
  /**
   * Optimistic concurrency about the whole log: append only if the log's
   * last index is still this (`-1` for an empty log); otherwise reject with
   * `AppendConflictError` and write nothing. Any append in between, about
   * anything, is a conflict; `condition` is the finer guard.
   * @default undefined (no check)
   * @throws `UsageError` (a `TypeError`, code `USAGE`; a rejection) for a value that is not an integer of -1 or more.
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
   * @throws `UsageError` (a `TypeError`, code `USAGE`; a rejection) for a filter naming no types, a `where` value that is not JSON, or an `after` that is not an index of -1 or more.
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
  /**
   * The event that caused this one: a stored event (as delivered by
   * `events()`, or as an append resolved with it) or its index. Stored as
   * `_meta.causedBy`; the new event also takes the cause's
   * `_meta.correlationId`, unless `correlationId` is given. An index the log
   * does not hold rejects the append with a `TypeError`, nothing written.
   * In a `catchupSubscribe` handler, `context.append` sets it for you.
   * @default undefined (the event has no cause recorded)
   * @example
   * const order = await log.append({ type: 'order-placed', id: 'o-1' })
   * await log.append({ type: 'invoice-sent', order: 'o-1' }, { causedBy: order })
   */
  causedBy?: number | Indexed<object>
  /**
   * Ties the events of one flow together (a request's id, a user's
   * session…), stored as `_meta.correlationId` and passed on to every event
   * appended with this one as its `causedBy`. A non-empty string.
   * @default the causing event's correlationId; none for an event without a cause
   * @example
   * await log.append({ type: 'bookmark', url }, { correlationId: request.headers['x-request-id'] })
   */
  correlationId?: string
}

/** Options of `log.events`. */
export interface EventsOptions extends EventFilter {
  /**
   * Start after this index: the first event delivered is `after + 1`.
   * @default -1 (from the start)
   * @throws `UsageError` (a `TypeError`, code `USAGE`) for a value that is not an index of -1 or more.
   * @example
   * for await (const event of log.events({ after: store.getVersion() })) console.log(event.index)
   */
  after?: number
  /**
   * Ends the iteration when aborted (the loop finishes normally).
   * @default undefined (runs until the log is closed or the loop breaks)
   */
  signal?: AbortSignal
  /**
   * End the iteration after the event at this index instead of waiting for
   * new events: `until: log.length - 1` reads what the log holds now and
   * ends, even when a filter leaves the last events out.
   * @default undefined (replay, then follow new events)
   * @throws `UsageError` (a `TypeError`, code `USAGE`) for a value that is not an index of -1 or more.
   * @example
   * ```ts
   * // Everything known about one URL so far, to decide from.
   * const history = []
   * for await (const event of log.events({ where: { url }, until: log.length - 1 })) history.push(event)
   * ```
   */
  until?: number
  /**
   * Deliver only events whose `type` is one of these, in replay and tail
   * alike. Matched against events as stored (before `upcast`).
   * @default undefined (every type)
   * @throws `UsageError` (a `TypeError`, code `USAGE`) for an empty list or one that is not of strings.
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
   * @throws `UsageError` (a `TypeError`, code `USAGE`) for a value JSON cannot carry (`undefined`, a function, a `Date`, `NaN`…), naming it.
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
   * Appends an event and resolves with it as stored, `_meta` (its time, and
   * what caused it) and `index` included, once it is written (and flushed,
   * with `fsync: true`). Appends land in call order with contiguous indices,
   * awaited or not.
   * @throws (rejects with) `InvalidEventError` (code `INVALID_EVENT`; nothing
   * written, no index used) for a value JSON cannot carry faithfully or an
   * event with a `_meta` field of its own; `TypeError` for a `causedBy` the log
   * does not hold or a `correlationId` that is not a non-empty string;
   * `AppendConflictError` (`APPEND_CONFLICT`) when `expectedLastIndex` or
   * `condition` does not hold; `LogClosedError` (`LOG_CLOSED`) after `close()`.
   * @example
   * ```ts
   * const bookmark = await log.append({ type: 'bookmark', url })
   * await log.append({ type: 'info', url, title }, { causedBy: bookmark })
   * ```
   */
  append(event: E, options?: AppendOptions): Promise<Indexed<E>>
  /**
   * Appends several events as one batch and resolves with them as stored,
   * once written: they land with contiguous indices, in the order given, or
   * none do, across a crash too (a torn batch is set aside whole when the log
   * is opened again). `expectedLastIndex` and `condition` apply to the batch
   * as a whole. The batch keeps its place in call order among other appends.
   *
   * @throws `UsageError` (a `TypeError`, code `USAGE`; a rejection, nothing written) for an empty list or something that is not an array.
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
   * @throws `UsageError` (a `TypeError`, code `USAGE`) for an `after` that is not an index of -1 or more, or a bad filter.
   * The iteration rejects with `UpcastError` (`UPCAST_FAILED`) when `upcast` fails, and, for a follower,
   * `LogReplacedError` (`LOG_REPLACED`) when the log it follows is replaced or cut short.
   * @example
   * ```ts
   * const controller = new AbortController()
   * for await (const event of log.events({ types: ['bookmark'], signal: controller.signal })) {
   *   console.log(event.index, event.url)
   * }
   * ```
   */
  events(options?: EventsOptions): AsyncIterableIterator<Indexed<E>>
  /**
   * Writes what is pending, ends every iterator and releases the storage. Later appends reject; calling it twice is harmless.
   * @throws (rejects with) the error of the storage's `close()`, whose resources may then still be held.
   * @example
   * process.once('SIGTERM', () => void log.close())
   */
  close(): Promise<void>
}

/** An append call held until the `_meta` of its events is known (see `enqueue`). */
interface HeldAppend {
  records: string[]
  events: object[]
  meta: EventMeta | Promise<EventMeta> | undefined
  options: StorageAppendOptions | undefined
  /** An `appendAll` call, resolved with all its events. */
  all: boolean
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

/**
 * Opens (or creates) a log. With `{ filename }` the log is an NDJSON file,
 * one event a line, each carrying its `index`.
 */
export async function initLog<E extends object = Record<string, unknown>>(options: InitLogOptions<E>, environment: Environment): Promise<Log<E>> {
  checkOptions(options)
  const metadata = options?.metadata ?? true
  if (typeof metadata !== 'boolean') throw usageError(`initLog({ metadata }) takes true or false, got ${String(metadata)}`)
  const storage = options?.storage ?? storageFor(options, environment)
  const length = await storage.open({ readOnly: options?.readOnly ?? false })
  let clock: AppendClock | undefined
  if (metadata && !options.readOnly) {
    try {
      // Times never go back within a log, across restarts too: the clock is
      // held to the last stored event's, the only one read.
      clock = appendClock(length > 0 ? storedTimeMs((await readStoredEvent(storage, length - 1))?._meta) : Number.NEGATIVE_INFINITY)
    } catch (error) {
      // Damage the storage finds only when this event is read is reported by
      // the reads that reach it, as for any other: opening does not fail on it.
      if (!(error instanceof CorruptLogError)) {
        await storage.close()
        throw error
      }
      clock = appendClock(Number.NEGATIVE_INFINITY)
    }
  }
  return createLog<E>(storage, length, options, environment, clock)
}

/** Event `index` as stored, read from the storage alone (a few lines of a file, a row), or `undefined` if it holds no such event. */
async function readStoredEvent(storage: LogStorage, index: number): Promise<Indexed<Record<string, unknown>> | undefined> {
  for await (const batch of storage.read(index)) {
    return batch[0]?.index === index ? batch[0] : batch.find((event) => event.index === index)
  }
  return undefined
}

/** Refuses options that would otherwise be ignored without a word. */
function checkOptions(options: InitLogOptions<object>): void {
  if ('fsImpl' in (options ?? {})) {
    // 0.2.x's hook for a file system of one's own (for tests, mostly).
    throw usageError(
      'initLog({ fsImpl }) is gone since 1.0: for a log in memory (tests) pass { storage: memoryStorage() }; ' +
        'to keep the log anywhere else, pass { storage } with a LogStorage of your own',
    )
  }
  if (options?.storage !== undefined && options.fsync !== undefined) {
    throw usageError('initLog({ storage, fsync }): fsync is an option of the storage, e.g. { storage: fileStorage(filename, { fsync: true }) }')
  }
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

function storageFor(options: InitLogOptions<object>, { defaultStorage }: Environment): LogStorage {
  if (typeof options?.filename !== 'string' || options.filename === '') {
    throw usageError('initLog() needs { filename } or { storage }')
  }
  return defaultStorage(options.filename, { fsync: options.fsync ?? false })
}

/**
 * The log over an opened storage holding `length` events. Its state lives in
 * this closure rather than in a class's private fields: a minifier shortens a
 * local variable to a letter, while every private field access keeps its `this.#`.
 */
function createLog<E extends object>(
  storage: LogStorage,
  length: number,
  { readOnly = false, upcast }: InitLogOptions<E>,
  { keepAlive }: Environment,
  clock: AppendClock | undefined,
): Log<E> {
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
  const follows = readOnly || storage.othersMayAppend === true

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
  function iterate(position: number, until: number, signal: AbortSignal | undefined, filter: EventFilter | undefined): AsyncIterableIterator<Indexed<E>> {
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
    const stopped = () => ended || closed || position > until || signal?.aborted === true
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
      for (let record = recent.record(position); record !== undefined && position <= until; record = recent.record(position)) {
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
        if (stored.index > until) {
          position = stored.index
          return undefined
        }
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
    if (follows && waiting++ === 0) release = keepAlive()
    try {
      await wakeUp
    } finally {
      if (follows && --waiting === 0) release?.()
    }
  }

  function deliver(stored: Indexed<Record<string, unknown>>): Indexed<E> {
    if (upcast === undefined) return stored as unknown as Indexed<E>
    const index = stored.index
    // A copy, so an upcast that changes the object it was given changes no metadata.
    const meta = stored._meta === undefined ? undefined : { ...stored._meta }
    let upcasted: unknown
    try {
      upcasted = upcast(stored)
    } catch (error) {
      throw new UpcastError(name, index, `threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
    }
    if (typeof upcasted !== 'object' || upcasted === null || Array.isArray(upcasted)) {
      throw new UpcastError(name, index, `returned ${Array.isArray(upcasted) ? 'an array' : String(upcasted)} instead of an event object`)
    }
    if (meta !== undefined) return { ...upcasted, _meta: meta, index } as unknown as Indexed<E>
    const { _meta: _notStored, ...event } = upcasted as Record<string, unknown>
    return { ...event, index } as unknown as Indexed<E>
  }

  /**
   * Builds the text a storage keeps for `event` (its JSON, without `index`),
   * at the time of the call, so later changes to the object are not stored.
   * Throws `InvalidEventError` before anything is queued, so a bad event uses
   * no index. Its `_meta` is added by `withMeta` once known.
   */
  function recordOf(event: E): string {
    return serializeEvent(event)
  }

  /** `record` with `meta` built into its text as `"_meta"`, its last field (nothing added with `metadata: false`). */
  function withMeta(record: string, meta: EventMeta | undefined): string {
    return meta === undefined ? record : clock!.withMeta(record, meta.at!, meta.causedBy, meta.correlationId)
  }

  /**
   * The event an append resolves with once written at `index`: as stored, as
   * `events()` delivers it. Copied field by field: V8 (Node 20) gives an
   * object spread followed by more fields (`{ ...event, index }`) a new
   * hidden class each time, several microseconds an event, ten times this
   * loop's cost. (The event is a plain object: no inherited fields to skip.)
   * An `index` of the caller's is left out, so `index` comes last, as stored;
   * `_meta` is copied, so no two events share one (a plain append's is the
   * shared frozen `plainMeta`, and an `appendAll` batch has one for all).
   */
  function storedEvent(event: object, meta: EventMeta | undefined, index: number): Indexed<object> {
    const stored: Record<string, unknown> = {}
    for (const key in event) if (key !== 'index') stored[key] = (event as Record<string, unknown>)[key]
    if (meta !== undefined) stored._meta = meta.causedBy === undefined && meta.correlationId === undefined ? { at: meta.at } : { ...meta }
    stored.index = index
    return stored as Indexed<object>
  }

  // The `_meta` of plain appends (no cause) within one millisecond: one
  // frozen object shared by all of them, so a burst allocates none per event.
  let plainMeta: EventMeta = Object.freeze({ at: '' })

  /**
   * The `_meta` of the events one append call stores: the time now, and what
   * `options` say caused them. A promise when the cause must first be read
   * from the storage (an index outside the recent window, without a
   * correlationId); `undefined` with `metadata: false`. Throws a usage error
   * for a bad `causedBy` or `correlationId`.
   */
  function metaOf(options: AppendOptions | undefined, call: string): EventMeta | Promise<EventMeta> | undefined {
    const cause = options?.causedBy
    let correlationId = options?.correlationId
    if (clock === undefined) {
      if (cause !== undefined || correlationId !== undefined) {
        throw usageError(
          `the log ${name} was opened with metadata: false, which stores no causedBy or correlationId; leave them out, or open it without metadata: false`,
        )
      }
      return undefined
    }
    const at = clock.now()
    if (cause === undefined && correlationId === undefined) {
      if (plainMeta.at !== at) plainMeta = Object.freeze({ at })
      return plainMeta
    }
    if (correlationId !== undefined && (typeof correlationId !== 'string' || correlationId === '')) {
      throw usageError(`${call.replace('…', 'correlationId')} takes a non-empty string, got ${JSON.stringify(correlationId) ?? String(correlationId)}`)
    }
    const finish = (causedBy: number | undefined, inherited: unknown): EventMeta => {
      if (correlationId === undefined && typeof inherited === 'string') correlationId = inherited
      const meta: { at: string; causedBy?: number; correlationId?: string } = { at }
      if (causedBy !== undefined) meta.causedBy = causedBy
      if (correlationId !== undefined) meta.correlationId = correlationId
      return meta
    }
    if (cause === undefined) return finish(undefined, undefined)
    if (typeof cause === 'object' && cause !== null) {
      const index = (cause as { index?: unknown }).index
      if (!(Number.isInteger(index) && (index as number) >= 0 && (index as number) < length)) {
        throw usageError(
          `${call.replace('…', 'causedBy')} got an object with index ${String(index)}, not an event of ${name} (it has ${length}); give a stored event or its index`,
        )
      }
      return finish(index as number, (cause as { _meta?: EventMeta })._meta?.correlationId)
    }
    if (!(Number.isInteger(cause) && (cause as number) >= 0)) {
      throw usageError(`${call.replace('…', 'causedBy')} takes a stored event or its index (0 or more), got ${String(cause)}`)
    }
    const index = cause as number
    // Given a correlationId, only whether the cause exists is left to know.
    if (correlationId !== undefined && index < length) return finish(index, undefined)
    const record = recent.record(index)
    if (record !== undefined) return finish(index, (JSON.parse(record) as { _meta?: EventMeta })._meta?.correlationId)
    return readStoredEvent(storage, index).then((stored) => {
      if (stored === undefined) {
        throw usageError(`${call.replace('…', `causedBy: ${index}`)}: ${name} holds no event ${index} (it has ${length}); give the index of a stored event`)
      }
      return finish(index, stored._meta?.correlationId)
    })
  }

  /** Throws (for the caller to turn into a rejection) if appends are refused now. */
  function checkWritable(): void {
    if (closing) throw new LogClosedError(name)
    if (readOnly) throw usageError(`the log ${name} was opened with readOnly: true; append through its writer`)
  }

  // Appends waiting, in call order, behind one whose cause must first be read
  // from the storage (to inherit its correlationId); `releasing` moves them on.
  let held: HeldAppend[] | undefined
  let releasing: Promise<void> | undefined

  /** Queues an append call, or holds it behind earlier held ones so that call order is kept. */
  function enqueue<T>(
    records: string[],
    events: object[],
    meta: EventMeta | Promise<EventMeta> | undefined,
    options: StorageAppendOptions | undefined,
    all: boolean,
  ): Promise<T> {
    if (held === undefined && !(meta instanceof Promise)) {
      for (let i = 0; i < records.length; i++) records[i] = withMeta(records[i]!, meta)
      return (all ? queue.addAll(records, events, meta, options) : queue.add(records[0]!, events[0]!, meta, options)) as Promise<T>
    }
    if (held === undefined) {
      held = []
      releasing = releaseHeld()
    }
    return new Promise<T>((resolve, reject) => {
      held!.push({ records, events, meta, options, all, resolve: resolve as (value: unknown) => void, reject })
    })
  }

  async function releaseHeld(): Promise<void> {
    // Started from enqueue() before its first entry is pushed: the loop begins after it.
    await Promise.resolve()
    const entries = held!
    for (let i = 0; i < entries.length; i++) {
      const { records, events, options, all, resolve, reject } = entries[i]!
      let meta: EventMeta | undefined
      try {
        meta = await entries[i]!.meta
      } catch (error) {
        reject(error)
        continue
      }
      for (let r = 0; r < records.length; r++) records[r] = withMeta(records[r]!, meta)
      const written = all ? queue.addAll(records, events, meta, options) : queue.add(records[0]!, events[0]!, meta, options)
      written.then(resolve, reject)
    }
    held = undefined
    releasing = undefined
  }

  async function closeNow(): Promise<void> {
    // Appends already made are written; only later ones are refused.
    while (releasing) await releasing
    await queue.drain()
    closed = true
    stopWatching?.()
    wake()
    recent.clear()
    await storage.close()
  }

  const log: Log<E> = {
    name,
    get length() {
      return length
    },
    append(event: E, options?: AppendOptions): Promise<Indexed<E>> {
      let record: string
      let storageOptions: StorageAppendOptions | undefined
      let meta: EventMeta | Promise<EventMeta> | undefined
      // Every refusal is a rejection, never a throw: callers handle one kind of failure.
      try {
        checkWritable()
        if (options !== undefined) storageOptions = storageOptionsOf(options, 'append(event, { … })')
        record = recordOf(event)
        meta = metaOf(options, 'append(event, { … })')
      } catch (error) {
        return Promise.reject(error)
      }
      // The common case without the array enqueue() takes.
      if (held === undefined && !(meta instanceof Promise)) return queue.add(withMeta(record, meta), event, meta, storageOptions) as Promise<Indexed<E>>
      return enqueue([record], [event], meta, storageOptions, false)
    },
    appendAll(events: readonly E[], options?: AppendOptions): Promise<Indexed<E>[]> {
      const records: string[] = []
      let storageOptions: StorageAppendOptions | undefined
      let meta: EventMeta | Promise<EventMeta> | undefined
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
            records.push(recordOf(events[i]!))
          } catch (error) {
            if (!(error instanceof InvalidEventError)) throw error
            throw new InvalidEventError(`appendAll(events): events[${i}] refused, nothing was written: ${error.message.replace(/^tiny-event-sourcing: /, '')}`)
          }
        }
        meta = metaOf(options, 'appendAll(events, { … })')
      } catch (error) {
        return Promise.reject(error)
      }
      return enqueue(records, events.slice(), meta, storageOptions, true)
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
      const until = options.until ?? Number.POSITIVE_INFINITY
      if (options.until !== undefined && !isIndex(until)) {
        throw usageError(`events({ until }) takes an index of -1 or more, such as log.length - 1, got ${String(options.until)}`)
      }
      return rememberSource(iterate(after + 1, until, options.signal, filter), log, after)
    },
    close(): Promise<void> {
      closing ??= closeNow()
      return closing
    },
  }
  return log
}
