import { StateAheadOfLogError, usageError } from './errors.js'
import { isProjectionVersion } from './snapshot-envelope.js'
import type { Indexed, Log } from './log.js'
import type { StateStore } from './state-store.js'

/** Options of `catchupSubscribe`. */
export interface CatchupSubscribeOptions {
  /** Stops the subscription when aborted: the handler running finishes, no further event is handled, and the promise resolves. */
  signal?: AbortSignal
}

/**
 * Calls `handler` with each event of `events` (typically `log.events()`: the
 * stored ones, then new ones as they are appended), one at a time, awaiting
 * each call before the next. Resolves when the events end (the log closed) or
 * `signal` aborts; rejects with the handler's error, handling nothing more.
 * The handler may append to the log.
 */
export async function catchupSubscribe<E>(
  events: AsyncIterable<E> | Iterable<E>,
  handler: (event: E) => unknown,
  options: CatchupSubscribeOptions = {},
): Promise<void> {
  const { signal } = options
  if (typeof handler !== 'function') throw usageError('catchupSubscribe() needs a handler function')
  const iterable = events as Partial<AsyncIterable<E> & Iterable<E>> | undefined
  const iterate: (() => AsyncIterator<E> | Iterator<E>) | undefined = iterable?.[Symbol.asyncIterator] ?? iterable?.[Symbol.iterator]
  if (typeof iterate !== 'function') {
    const given = events === null || typeof events !== 'object' ? String(events) : 'append' in events ? 'the log itself' : 'an object that is not iterable'
    throw usageError(`catchupSubscribe() needs events to iterate, such as log.events(); got ${given}`)
  }
  const iterator = iterate.call(events)
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
      try {
        await handler(result.value)
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
  /** Stops the projection when aborted; the promise resolves. */
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
 * @throws the error of `reduce` (the promise rejects with it).
 * @throws StateAheadOfLogError (`STATE_AHEAD_OF_LOG`) when the store reflects events the log lacks.
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
