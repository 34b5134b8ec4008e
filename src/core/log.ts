import { CorruptLogError, LogClosedError, UpcastError, usageError } from './errors.js'
import { type AppendClock, appendClock, storedTimeMs } from './event-meta.js'
import { rememberSource } from './event-source.js'
import { serializeEvent } from './serialize.js'
import type { Environment } from './environment.js'
import type { EventMeta, Indexed, LogStorage } from './log-storage.js'

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
   * object (with `index` and `_meta`) and returns the event to deliver; the
   * stored `index` and `_meta` are kept, whatever it returns.
   * If it throws or returns a non-object, the iteration ends with an `UpcastError`.
   */
  upcast?: (stored: Indexed<Record<string, unknown>>) => Record<string, unknown>
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

/** Options of `log.append`. */
export interface AppendOptions {
  /**
   * Optimistic concurrency: append only if the log's last index is still this
   * (`-1` for an empty log); otherwise reject with `AppendConflictError`.
   */
  expectedLastIndex?: number
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
   * Appends an event and resolves with it as stored, `_meta` (its time, and
   * what caused it) and `index` included, once it is written (and flushed,
   * with `fsync: true`). Appends land in call order with contiguous indices,
   * awaited or not.
   * @throws (rejects with) `InvalidEventError` (code `INVALID_EVENT`; nothing
   * written, no index used) for a value JSON cannot carry faithfully or an
   * event with a `_meta` field of its own; `TypeError` for a `causedBy` the log
   * does not hold or a `correlationId` that is not a non-empty string;
   * `AppendConflictError` (`APPEND_CONFLICT`) when `expectedLastIndex` no
   * longer holds; `LogClosedError` (`LOG_CLOSED`) after `close()`.
   * @example
   * const bookmark = await log.append({ type: 'bookmark', url })
   * await log.append({ type: 'info', url, title }, { causedBy: bookmark })
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

interface PendingAppend {
  /** The record for the storage: the event's JSON text, with `_meta` once stamped. */
  record: string
  event: object
  /** The event's `_meta` (for a time alone, the clock's shared object); `undefined` with `metadata: false`. */
  meta: EventMeta | undefined
  expectedLastIndex: number | undefined
  resolve: (stored: Indexed<object>) => void
  reject: (error: unknown) => void
}

/** Upper bound of one write, so a huge burst is written in steady pieces. */
const maxBatchBytes = 8 * 1024 * 1024
/** How many just-written records (and bytes of them) are kept so caught-up iterators need not read them back. */
const recentCapacity = 4096
const recentCapacityBytes = 4 * 1024 * 1024

/**
 * Opens (or creates) a log. With `{ filename }` the log is an NDJSON file,
 * one event a line, each carrying its `index`.
 */
export async function initLog<E extends object = Record<string, unknown>>(options: InitLogOptions, environment: Environment): Promise<Log<E>> {
  const metadata = options?.metadata ?? true
  if (typeof metadata !== 'boolean') throw usageError(`initLog({ metadata }) takes true or false, got ${String(metadata)}`)
  const storage = options?.storage ?? storageFor(options, environment)
  const length = await storage.open()
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
function createLog<E extends object>(
  storage: LogStorage,
  length: number,
  { readOnly = false, upcast }: InitLogOptions,
  { keepAlive }: Environment,
  clock: AppendClock | undefined,
): Log<E> {
  const name = storage.name
  let closed = false
  /** Why the storage can no longer deliver what is written next (a followed file replaced): iterators end with it. */
  let failure: Error | undefined
  let closing: Promise<void> | undefined
  const appendQueue: PendingAppend[] = []
  let writing: Promise<void> | undefined
  // Appends waiting, in call order, behind one whose cause must first be read
  // from the storage (to inherit its correlationId); `releasing` moves them on.
  let held: { pending: PendingAppend; ready: Promise<void> | undefined }[] | undefined
  let releasing: Promise<void> | undefined
  // Records this log wrote last, starting at index recentFirst: iterators
  // that keep up are served from here instead of reading the storage again.
  let recent: string[] = []
  let recentBytes = 0
  let recentFirst = length
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

  async function writeQueued(): Promise<void> {
    while (appendQueue.length > 0) {
      const batch = takeBatch()
      const records = batch.map((pending) => pending.record)
      const expectedLastIndex = batch[0]!.expectedLastIndex
      try {
        const first = await storage.append(records, expectedLastIndex === undefined ? undefined : { expectedLastIndex })
        remember(first, records)
        if (first + records.length > length) length = first + records.length
        wake()
        for (let i = 0; i < batch.length; i++) {
          const pending = batch[i]!
          pending.resolve(asStored(pending, first + i))
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
    while (count < appendQueue.length) {
      const pending = appendQueue[count]!
      if (pending.expectedLastIndex !== undefined) {
        if (count === 0) count = 1
        break
      }
      bytes += pending.record.length
      count++
      if (bytes >= maxBatchBytes) break
    }
    return appendQueue.splice(0, count)
  }

  function remember(first: number, records: string[]): void {
    if (first !== recentFirst + recent.length) {
      // Someone else wrote in between (another process or machine): start over.
      recent = []
      recentBytes = 0
      recentFirst = first
    }
    for (const record of records) {
      recent.push(record)
      recentBytes += record.length
    }
    // Trimmed only once the window is twice its size, so trimming costs O(1) per record.
    if (recent.length > 2 * recentCapacity || recentBytes > 2 * recentCapacityBytes) {
      let drop = 0
      while (recent.length - drop > recentCapacity || recentBytes > recentCapacityBytes) {
        recentBytes -= recent[drop]!.length
        drop++
      }
      recent = recent.slice(drop)
      recentFirst += drop
    }
  }

  /** The record of event `index` if the recent window holds it. */
  function recentRecord(index: number): string | undefined {
    const offset = index - recentFirst
    return offset >= 0 && offset < recent.length ? recent[offset] : undefined
  }

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
    const waitForChangeOrAbort = () => {
      if (signal && !onAbort) {
        onAbort = () => wake()
        signal.addEventListener('abort', onAbort, { once: true })
      }
      return waitForChange()
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
      const record = recentRecord(position)
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
      for (;;) {
        if (stopped()) return end()
        if (batchAt < batch.length) return fromBatch()
        if (failure) throw failure
        if (reader) {
          // Caught up with what this log wrote itself: memory is faster.
          if (recentRecord(position) !== undefined) {
            await stopReading()
            continue
          }
          const result = await reader.next()
          if (stopped()) return end()
          if (result.done) {
            reader = undefined
            // The storage has not caught up with a length it announced: wait rather than spin.
            if (position === readFrom) await waitForChangeOrAbort()
            continue
          }
          batch = result.value
          batchAt = 0
          continue
        }
        if (position >= length) {
          await waitForChangeOrAbort()
          continue
        }
        const recentStep = fromRecent()
        if (recentStep) return recentStep
        readFrom = position
        reader = storage.read(position)[Symbol.asyncIterator]()
      }
    }
    const step = async (): Promise<Step> => {
      try {
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
        // Fast paths, without an async function's extra promises.
        if (!stopped()) {
          if (batchAt < batch.length) return Promise.resolve(fromBatch())
          if (reader === undefined && position < length) {
            const recentStep = fromRecent()
            if (recentStep) return Promise.resolve(recentStep)
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

  /** Resolves at the next append, close or abort. Must be called right after checking the length, with no await in between, so no wake-up is missed. */
  async function waitForChange(): Promise<void> {
    const changedNow = changed
    if (follows && waiting++ === 0) release = keepAlive()
    try {
      await changedNow
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
   * What an append resolves with: the event as stored, as `events()` delivers
   * it, its fields in their order, then `_meta`, then `index`. Copied key by
   * key: a spread followed by two more fields takes V8's slow path, several
   * times slower than this loop in a burst.
   */
  function asStored(pending: PendingAppend, index: number): Indexed<object> {
    const event = pending.event as Record<string, unknown>
    const stored: Record<string, unknown> = {}
    for (const key in event) if (key !== 'index' && Object.hasOwn(event, key)) stored[key] = event[key]
    const meta = pending.meta
    // A time alone is the clock's shared object (see plainMeta): each event gets its own.
    if (meta !== undefined) stored._meta = meta.causedBy === undefined && meta.correlationId === undefined ? { at: meta.at } : meta
    stored.index = index
    return stored as Indexed<object>
  }

  /**
   * Adds `_meta` to the pending append: the time now, and what `options` say
   * caused it. Returns a promise when the cause must first be read from the
   * storage (an index outside the recent window, without a correlationId).
   */
  function stamp(pending: PendingAppend, options: AppendOptions | undefined): Promise<void> | undefined {
    const at = clock!.now()
    const cause = options?.causedBy
    let correlationId = options?.correlationId
    if (cause === undefined && correlationId === undefined) {
      pending.record = clock!.withMeta(pending.record, at, undefined, undefined)
      pending.meta = clock!.plainMeta()
      return undefined
    }
    if (correlationId !== undefined && (typeof correlationId !== 'string' || correlationId === '')) {
      throw usageError(`append(event, { correlationId }) takes a non-empty string, got ${JSON.stringify(correlationId) ?? String(correlationId)}`)
    }
    const finish = (causedBy: number | undefined, inherited: unknown): undefined => {
      if (correlationId === undefined && typeof inherited === 'string') correlationId = inherited
      pending.record = clock!.withMeta(pending.record, at, causedBy, correlationId)
      const meta: { at: string; causedBy?: number; correlationId?: string } = { at }
      if (causedBy !== undefined) meta.causedBy = causedBy
      if (correlationId !== undefined) meta.correlationId = correlationId
      pending.meta = meta
      return undefined
    }
    if (cause === undefined) return finish(undefined, undefined)
    if (typeof cause === 'object' && cause !== null) {
      const index = (cause as { index?: unknown }).index
      if (!(Number.isInteger(index) && (index as number) >= 0 && (index as number) < length)) {
        throw usageError(
          `append(event, { causedBy }) got an object with index ${String(index)}, not an event of ${name} (it has ${length}); give a stored event or its index`,
        )
      }
      return finish(index as number, (cause as { _meta?: EventMeta })._meta?.correlationId)
    }
    if (!(Number.isInteger(cause) && (cause as number) >= 0)) {
      throw usageError(`append(event, { causedBy }) takes a stored event or its index (0 or more), got ${String(cause)}`)
    }
    const index = cause as number
    // Given a correlationId, only whether the cause exists is left to know.
    if (correlationId !== undefined && index < length) return finish(index, undefined)
    const record = recentRecord(index)
    if (record !== undefined) return finish(index, (JSON.parse(record) as { _meta?: EventMeta })._meta?.correlationId)
    return readStoredEvent(storage, index).then((stored) => {
      if (stored === undefined) {
        throw usageError(`append(event, { causedBy: ${index} }): ${name} holds no event ${index} (it has ${length}); give the index of a stored event`)
      }
      finish(index, stored._meta?.correlationId)
    })
  }

  /** Queues an append for the writer, behind any held one; `ready` holds it (and every later one) until it settles. */
  function enqueue(pending: PendingAppend, ready: Promise<void> | undefined): void {
    if (held !== undefined || ready !== undefined) {
      if (held === undefined) {
        held = []
        releasing = releaseHeld()
      }
      held.push({ pending, ready })
      return
    }
    appendQueue.push(pending)
    // Deferred to a microtask so that appends made in one synchronous run
    // share a single write (group commit).
    writing ??= Promise.resolve().then(writeQueued)
  }

  async function releaseHeld(): Promise<void> {
    // Started from enqueue() before its first entry is pushed: the loop begins after it.
    await Promise.resolve()
    const entries = held!
    for (let i = 0; i < entries.length; i++) {
      const { pending, ready } = entries[i]!
      if (ready !== undefined) {
        try {
          await ready
        } catch (error) {
          pending.reject(error)
          continue
        }
      }
      appendQueue.push(pending)
      writing ??= Promise.resolve().then(writeQueued)
    }
    held = undefined
    releasing = undefined
  }

  async function closeNow(): Promise<void> {
    // Appends already made are written; only later ones are refused.
    while (releasing) await releasing
    while (writing) await writing
    closed = true
    stopWatching?.()
    wake()
    recent = []
    recentBytes = 0
    await storage.close()
  }

  const log: Log<E> = {
    name,
    get length() {
      return length
    },
    append(event: E, options?: AppendOptions): Promise<Indexed<E>> {
      const expectedLastIndex = options?.expectedLastIndex
      let pending: PendingAppend
      let ready: Promise<void> | undefined
      // Every refusal is a rejection, never a throw: callers handle one kind of failure.
      try {
        if (closing) throw new LogClosedError(name)
        if (readOnly) {
          throw usageError(`the log ${name} was opened with readOnly: true; append through its writer`)
        }
        if (expectedLastIndex !== undefined && !(Number.isInteger(expectedLastIndex) && expectedLastIndex >= -1)) {
          throw usageError(`append(event, { expectedLastIndex }) takes an index of -1 or more, got ${String(expectedLastIndex)}`)
        }
        pending = { record: serializeEvent(event), event, meta: undefined, expectedLastIndex, resolve: undefined!, reject: undefined! }
        if (clock !== undefined) ready = stamp(pending, options)
        else if (options?.causedBy !== undefined || options?.correlationId !== undefined) {
          throw usageError(
            `the log ${name} was opened with metadata: false, which stores no causedBy or correlationId; leave them out, or open it without metadata: false`,
          )
        }
      } catch (error) {
        return Promise.reject(error)
      }
      return new Promise<Indexed<E>>((resolve, reject) => {
        pending.resolve = resolve as PendingAppend['resolve']
        pending.reject = reject
        enqueue(pending, ready)
      })
    },
    events(options: EventsOptions = {}): AsyncIterableIterator<Indexed<E>> {
      const after = options.after ?? -1
      if (!Number.isInteger(after) || after < -1) {
        throw usageError(`events({ after }) takes an index of -1 or more, got ${String(options.after)}`)
      }
      return rememberSource(iterate(after + 1, options.signal), log, after)
    },
    close(): Promise<void> {
      closing ??= closeNow()
      return closing
    },
  }
  return log
}
