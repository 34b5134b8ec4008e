/**
 * Given/then specs for the three kinds of code a project writes around its
 * log: reducers (read models), upcasters (old event shapes) and handlers
 * (code that reacts to events by appending more). They run the code as the
 * library would, over a log in memory, and fail with a `TestAssertionError`
 * that names what differs.
 */
import { UpcastError } from '../core/errors.js'
import { initLog, type Log } from '../core/log.js'
import type { Indexed } from '../core/log-storage.js'
import { catchupSubscribe, type HandlerContext } from '../core/subscribe.js'
import { memoryStorage } from '../memory/storage.js'
import { assertEqual, TestAssertionError } from './assert.js'
import { testEnvironment } from './environment.js'
import { asDelivered, assertDeterministic, eventLabel, type Reducer } from './reducer-check.js'

/** A handler, as `catchupSubscribe(events, handler)` takes it. */
export type EventHandler<E> = (event: Indexed<E>, context: HandlerContext<Indexed<E>>) => unknown

/** What `given(events).reduce(…)` built. */
export interface ReducedSpec<S> {
  /** The state after the last event. */
  readonly state: S
  /** Fails unless the state after the last event equals `expected` (as JSON values). */
  expect(expected: S): void
}

/** What `given(stored).upcast(…)` delivers. */
export interface UpcastSpec<E> {
  /** The events as the log delivers them, `index` (and `_meta`) included. */
  events(): Promise<Indexed<E>[]>
  /**
   * Fails unless the log delivers `expected`, in order. An `index` or
   * `_meta` left out of an expected event is not compared.
   */
  expect(expected: readonly E[]): Promise<void>
}

/** What the handler of `given(events).handle(…)` appended. */
export interface HandlerSpec<E> {
  /** The events the handler appended, as stored, in order. */
  appended(): Promise<Indexed<E>[]>
  /**
   * Fails unless the handler appended exactly `expected`, in order. An
   * `index` or `_meta` left out of an expected event is not compared.
   */
  expectAppended(expected: readonly E[]): Promise<void>
}

/** The starting point of a spec: `events` as a log holds them. */
export interface Given<E extends object> {
  /**
   * Runs `reduce` over the events, from `initialState`, as `project()`
   * would, and checks that it is deterministic (see `assertDeterministic`).
   */
  reduce<S>(reduce: Reducer<S, E>, initialState: S): ReducedSpec<S>
  /**
   * Stores the events as they are, in their old shape, and reads them back
   * through a log opened with `upcast`, which delivers them in the current
   * shape `Current`.
   */
  upcast<Current extends object>(upcast: (stored: Indexed<E>) => Current): UpcastSpec<Current>
  /**
   * Puts the events into a log in memory, then runs the handler that
   * `makeHandler` makes for that log over them with `catchupSubscribe` (so
   * it gets the same `context`, and `context.append` records the cause), in
   * order, awaiting each call; what the handler appends to the log is the
   * result. Events the handler appends are not handed back to it: give them
   * too, to test a chain.
   */
  handle(makeHandler: (log: Log<E>) => EventHandler<E>): HandlerSpec<E>
}

/** `actual` without the `index` and `_meta` that `expected` leaves out, so specs need not repeat them. */
function comparable(actual: readonly Indexed<object>[], expected: readonly object[]): object[] {
  return actual.map((event, position) => {
    const wanted = expected[position] ?? {}
    const { index, _meta, ...rest } = event as Indexed<Record<string, unknown>>
    return { ...rest, ...('index' in wanted ? { index } : {}), ...('_meta' in wanted ? { _meta } : {}) }
  })
}

async function allEvents<E>(log: Log<E>): Promise<Indexed<E>[]> {
  const events: Indexed<E>[] = []
  if (log.length === 0) return events
  for await (const event of log.events()) {
    events.push(event)
    if (event.index === log.length - 1) break
  }
  return events
}

/** Runs `produce` once, on first use. */
function once<T>(produce: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined
  return () => (result ??= produce())
}

/**
 * Starts a spec from events: those a log holds before the code under test
 * runs. Events without an `index` get their position, as in a log.
 *
 * @example
 * import { given } from 'tiny-event-sourcing/testing'
 *
 * given([{ type: 'info', url: 'https://a.example', title: 'A', faviconUrl: 'https://a.example/a.png' }])
 *   .reduce(reduce, { byUrl: {} })
 *   .expect({ byUrl: { 'https://a.example': { url: 'https://a.example', title: 'A', faviconUrl: 'https://a.example/a.png' } } })
 */
export function given<E extends object>(events: readonly E[]): Given<E> {
  return {
    reduce<S>(reduce: Reducer<S, E>, initialState: S): ReducedSpec<S> {
      const state = assertDeterministic(reduce, initialState, events)
      return {
        state,
        expect(expected: S): void {
          assertEqual(state, expected, `the state after ${events.length} events`)
        },
      }
    },

    upcast<Current extends object>(upcast: (stored: Indexed<E>) => Current): UpcastSpec<Current> {
      const read = once(async () => {
        const storage = memoryStorage({ name: 'the upcast spec' })
        await storage.open()
        // As stored, without the current shape's checks: old events are what they are.
        await storage.append(asDelivered(events).map(({ index: _index, ...stored }) => JSON.stringify(stored)))
        const log = await initLog<Current>({ storage, upcast: upcast as (stored: Indexed<Record<string, unknown>>) => Current }, testEnvironment)
        try {
          return await allEvents(log)
        } catch (error) {
          if (!(error instanceof UpcastError)) throw error
          const label = eventLabel(asDelivered(events)[error.index], error.index)
          throw new TestAssertionError(`upcast failed for ${label}: ${(error.cause as Error)?.message ?? error.message}`)
        } finally {
          await log.close()
        }
      })
      return {
        events: read,
        async expect(expected: readonly Current[]): Promise<void> {
          const delivered = await read()
          assertEqual(comparable(delivered, expected), expected, 'the upcast events')
        },
      }
    },

    handle(makeHandler: (log: Log<E>) => EventHandler<E>): HandlerSpec<E> {
      const appended = once(async () => {
        const storage = memoryStorage({ name: 'the handler spec' })
        const log = await initLog<E>({ storage }, testEnvironment)
        try {
          for (const event of events) await log.append(event)
          const handler = makeHandler(log)
          const last = events.length - 1
          // Stopped after the last given event, so what the handler appends is not handed back to it.
          const handled = new AbortController()
          if (last >= 0) {
            await catchupSubscribe(
              log.events({ signal: handled.signal }),
              async (event, context) => {
                try {
                  await handler(event, context)
                } catch (error) {
                  throw new TestAssertionError(`the handler threw for ${eventLabel(event, event.index)}: ${(error as Error)?.message ?? String(error)}`)
                }
                if (event.index >= last) handled.abort()
              },
              { signal: handled.signal },
            )
          }
        } finally {
          // Writes what the handler appended without awaiting it.
          await log.close()
        }
        const reopened = await initLog<E>({ storage }, testEnvironment)
        try {
          return (await allEvents(reopened)).slice(events.length)
        } finally {
          await reopened.close()
        }
      })
      return {
        appended,
        async expectAppended(expected: readonly E[]): Promise<void> {
          const actual = await appended()
          assertEqual(comparable(actual, expected), expected, `the events the handler appended for ${events.length} events`)
        },
      }
    },
  }
}
