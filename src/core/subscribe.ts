import { StateAheadOfLogError, usageError } from './errors.js'
import { type EventSource, sourceOf } from './event-source.js'
import { checkFilter, type EventFilter, matchesFilter } from './filter.js'
import { isProjectionVersion } from './snapshot-envelope.js'
import type { AppendOptions, Indexed, Log } from './log.js'
import type { StateStore } from './state-store.js'

/** Options of `catchupSubscribe`. */
export interface CatchupSubscribeOptions {
  /**
   * Stops the subscription when aborted: the handler running finishes, no further event is handled, and the promise resolves.
   * @default undefined (runs until the events end, e.g. the log is closed)
   */
  signal?: AbortSignal
  /**
   * Which events the handler appends with `context.append`, as a filter such
   * as `{ types: ['info', 'info-failed'] }`: makes each event's appends happen
   * once, across crashes too. Before the first event, the events stored after
   * where `log.events({ after })` starts are scanned (those only, never the
   * whole log) for ones that match and were caused by an event after `after`:
   * such an event was handled by a process stopped before it saved how far
   * it got, and is not handled again. Append all of one event's results in
   * one call, so they land together or not at all.
   *
   * Name only what this handler appends: an event another handler appended
   * in reaction to the same event would mark it handled here too.
   * @default undefined (every event from `after + 1` on is handled)
   * @throws `UsageError` (a `TypeError`, code `USAGE`) when `events` is not from `log.events()` or the filter is not one
   * @example
   * catchupSubscribe(log.events({ after: fetcher.getVersion() }), async (event, { append }) => {
   *   if (event.type === 'bookmark') await append({ type: 'info', url: event.url, ...(await fetchPageInfo(event.url)) })
   *   fetcher.update(fetcher.getState(), event.index)
   * }, { appends: { types: ['info'] } })
   */
  appends?: EventFilter
}

/** The event type a log of stored events `I` takes in `append`: the same, without `index` and `_meta`. */
export type Unstored<I> = I extends unknown ? Omit<I, 'index' | '_meta'> : never

/** What a `catchupSubscribe` handler receives with each event. */
export interface HandlerContext<E> {
  /**
   * Appends `event` to the log being iterated, caused by the event being
   * handled: `log.append(event, { ...options, causedBy: handledEvent })`, so
   * its `_meta.causedBy` is that event's index and it inherits its
   * `correlationId`. Rejects with a `TypeError` when the events iterated are
   * not from `log.events()`.
   * @throws (rejects with) `UsageError` (a `TypeError`, code `USAGE`) when the events are not from `log.events()`;
   * otherwise what `log.append` rejects with (`InvalidEventError`, `AppendConflictError`, `LogClosedError`).
   * @example
   * catchupSubscribe(log.events(), async (event, { append }) => {
   *   if (event.type === 'order-placed') await append({ type: 'invoice-sent', order: event.id })
   * })
   */
  append(event: Unstored<E>, options?: Omit<AppendOptions, 'causedBy'>): Promise<E>
}

/**
 * Calls `handler` with each event of `events` (typically `log.events()`: the
 * stored ones, then new ones as they are appended), one at a time, awaiting
 * each call before the next. Resolves when the events end (the log closed) or
 * `signal` aborts; rejects with the handler's error, handling nothing more.
 * The handler may append to the log; with `context.append`, what it appends
 * records the handled event as its cause, and `appends` makes that happen once.
 * @throws (rejects with) `UsageError` (a `TypeError`, code `USAGE`) for a missing handler, events that cannot be iterated, or an `appends` that cannot be used
 * @example
 * await catchupSubscribe(log.events({ after: store.getVersion() }), async (event, { append }) => {
 *   if (event.type === 'bookmark') await append({ type: 'info', url: event.url, title: await titleOf(event.url) })
 *   store.update(store.getState(), event.index)
 * }, { appends: { types: ['info'] } })
 */
export async function catchupSubscribe<E>(
  events: AsyncIterable<E> | Iterable<E>,
  handler: (event: E, context: HandlerContext<E>) => unknown,
  options: CatchupSubscribeOptions = {},
): Promise<void> {
  const { signal, appends } = options
  if (typeof handler !== 'function') throw usageError('catchupSubscribe() needs a handler function')
  const iterable = events as Partial<AsyncIterable<E> & Iterable<E>> | undefined
  const iterate: (() => AsyncIterator<E> | Iterator<E>) | undefined = iterable?.[Symbol.asyncIterator] ?? iterable?.[Symbol.iterator]
  if (typeof iterate !== 'function') {
    const given = events === null || typeof events !== 'object' ? String(events) : 'append' in events ? 'the log itself' : 'an object that is not iterable'
    throw usageError(`catchupSubscribe() needs events to iterate, such as log.events(); got ${given}`)
  }
  const source = sourceOf(events)
  if (appends !== undefined) {
    checkFilter(appends, 'catchupSubscribe(events, handler, { appends })')
    if (source === undefined) {
      throw usageError(
        "catchupSubscribe(events, handler, { appends }) needs events from log.events(): the handler's earlier appends are looked for in that log",
      )
    }
  }
  const iterator = iterate.call(events)
  if (signal?.aborted) {
    await iterator.return?.()
    return
  }
  const handledBefore = appends === undefined ? undefined : await causesOfAppends(source!, appends, signal)
  if (signal?.aborted) {
    await iterator.return?.()
    return
  }
  // An abort wakes the current wait. (Racing every wait against one abort
  // promise would pile a reaction onto it per event, for as long as it runs.)
  let wake: ((aborted: 'aborted') => void) | undefined
  const onAbort = () => wake?.('aborted')
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    for (;;) {
      const next = Promise.resolve(iterator.next())
      const result = signal
        ? await new Promise<IteratorResult<E> | 'aborted'>((resolve, reject) => {
            wake = resolve
            next.then(resolve, reject)
          })
        : await next
      wake = undefined
      if (result === 'aborted') {
        // The iterator is still waiting for its next event, so return() would
        // wait too; it is asked to finish without holding the caller up. (Pass
        // the signal to log.events({ signal }) as well to end it at once.)
        next.then(
          () => iterator.return?.(),
          () => {},
        )
        return
      }
      if (result.done) return
      const event = result.value
      // Handled by a process that stopped before saving how far it got: its appends are in the log.
      if (handledBefore !== undefined && handledBefore.size > 0 && handledBefore.delete((event as { index: number }).index)) continue
      try {
        const handled = handler(event, source === undefined ? noLogContext : contextFor(source.log as Log<never>, event))
        // A handler that returns no promise costs no extra turn of the event loop.
        if (typeof (handled as PromiseLike<unknown> | undefined)?.then === 'function') await handled
      } catch (error) {
        // The handler's error is the one to report, even if ending the iterator fails too.
        await Promise.resolve(iterator.return?.()).catch(() => {})
        throw error
      }
      if (signal?.aborted) {
        await iterator.return?.()
        return
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}

const noLogContext: HandlerContext<never> = {
  append: () =>
    Promise.reject(usageError('context.append() needs catchupSubscribe() to iterate log.events(), the log it appends to; append to the log yourself')),
}

function contextFor<E>(log: Log<never>, cause: E): HandlerContext<E> {
  return {
    append: (event, options) =>
      log.append(
        event as never,
        options === undefined ? { causedBy: cause as Indexed<object> } : { ...options, causedBy: cause as Indexed<object> },
      ) as Promise<E>,
  }
}

/**
 * The indices of the events that caused an event matching `appends` stored
 * after `source.after`: read from there to the end of the log as it is now,
 * and no further back.
 */
async function causesOfAppends(source: EventSource, appends: EventFilter, signal: AbortSignal | undefined): Promise<Set<number>> {
  const causes = new Set<number>()
  const last = source.log.length - 1
  if (last <= source.after) return causes
  for await (const event of source.log.events({ after: source.after, signal })) {
    const causedBy = (event as Indexed<Record<string, unknown>>)._meta?.causedBy
    if (causedBy !== undefined && causedBy > source.after && matchesFilter(event as Record<string, unknown>, appends)) causes.add(causedBy)
    if ((event as Indexed<object>).index >= last) break
  }
  return causes
}

/** Options of `project`. */
export interface ProjectOptions<E, S> {
  /** The log to read. */
  log: Log<E>
  /** The read model's store (any `StateStore`); events after its version are applied to its state. */
  store: StateStore<S>
  /**
   * Returns the state after `event`, without side effects, so replaying the
   * log always builds the same state. It may change `state` in place and
   * return it: each event then costs the same however big the state is
   * (building a new object instead copies what it spreads, every event).
   * Return `state` itself for events the read model ignores.
   */
  reduce: (state: S, event: Indexed<E>) => S
  /**
   * The version of your projection code. Change it when `reduce` changes
   * meaning, and the read model is rebuilt from the start of the log. It is
   * stored with the state (`"_projection"` in the file).
   *
   * @default undefined (no version: the state is kept whatever `reduce` is)
   */
  version?: number | string
  /**
   * Stops the projection when aborted; the promise resolves.
   * @default undefined (runs until the log is closed)
   * @example
   * const stop = new AbortController()
   * const running = project({ log, store, reduce, signal: stop.signal })
   */
  signal?: AbortSignal
}

/**
 * Keeps a read model up to date with a log: applies `reduce` to every event
 * after the store's version, in order, and updates the store with each
 * event's index, so a restart picks up exactly where it stopped. Rebuilds from
 * the initial state when `version` differs from the one stored. Resolves when
 * the log closes or `signal` aborts. When `reduce` throws (or returns
 * `undefined`), the store is abandoned (see `StateStore.abandon`), since a
 * reducer may have changed the state halfway: what was saved last stays, and
 * a restart goes on from there.
 *
 * @throws (rejects with) the error of `reduce`; `UsageError` (a `TypeError`, code `USAGE`) for options it cannot use.
 * @throws (rejects with) `StateAheadOfLogError` (`STATE_AHEAD_OF_LOG`) when the store reflects events the log lacks.
 * @example
 * await project({
 *   log,
 *   store: bookmarks,
 *   reduce: (state, event) => {
 *     if (event.type === 'info') state.byUrl[event.url] = { url: event.url, title: event.title }
 *     return state
 *   },
 * })
 */
export async function project<E extends object, S>(options: ProjectOptions<E, S>): Promise<void> {
  const { log, store, reduce, version, signal } = options
  if (typeof reduce !== 'function' || typeof log?.events !== 'function' || store === undefined) {
    throw usageError('project() needs { log, store, reduce: (state, event) => newState }')
  }
  const missing = (['getState', 'getVersion', 'update', 'getProjection', 'reset'] as const).filter((member) => typeof store[member] !== 'function')
  if (missing.length > 0)
    throw usageError(`project() needs a StateStore, such as initStateStore() opens; ${store.name ?? 'the store'} has no ${missing.join(', ')}`)
  if (version !== undefined && !isProjectionVersion(version)) {
    throw usageError(`project({ version }) takes a number or a string, got ${String(version)}`)
  }
  if (store.getProjection() !== version) store.reset(version)
  if (store.getVersion() >= log.length) throw new StateAheadOfLogError(store.name, store.getVersion(), log.name, log.length)
  // A plain loop, not catchupSubscribe: reduce is synchronous, so no await per event is needed.
  for await (const event of log.events({ after: store.getVersion(), signal })) {
    const reading = store.beforeChange?.()
    if (reading !== undefined) await reading
    try {
      const next = reduce(store.getState(), event)
      if (next === undefined) {
        throw usageError(`reduce returned undefined for event ${event.index} of ${log.name}; return state itself to ignore an event`)
      }
      store.update(next, event.index)
    } catch (error) {
      store.abandon?.()
      throw error
    }
  }
}
