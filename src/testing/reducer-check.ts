/**
 * Runs a reducer the way `project()` does, one event at a time, watching
 * for what replaying a log would expose later: a reducer that gives another
 * state the second time over the same events, or that changes the events it
 * is given. Each failure names the event at fault.
 */
import type { Indexed } from '../core/log-storage.js'
import { firstDifference, TestAssertionError } from './assert.js'

/** A reducer, as `project({ reduce })` takes it. */
export type Reducer<S, E> = (state: S, event: Indexed<E>) => S

/** `event 3 ("bookmark")`: how messages name an event. */
export function eventLabel(event: unknown, position: number): string {
  const { index, type } = (event ?? {}) as { index?: unknown; type?: unknown }
  const at = typeof index === 'number' ? index : position
  return typeof type === 'string' ? `event ${at} (${JSON.stringify(type)})` : `event ${at}`
}

/**
 * The events as a log delivers them: each with an `index` (its position,
 * unless it has one), as fresh copies the caller's array does not share.
 */
export function asDelivered<E extends object>(events: readonly E[]): Indexed<E>[] {
  return events.map((event, position) => {
    const copy = structuredClone(event) as Indexed<E>
    return 'index' in copy ? copy : ({ ...(copy as object), index: position } as Indexed<E>)
  })
}

/** One pass of `reduce` over copies of `events`: the state after each event (copies, so later changes to a state do not alter them). */
function statesAfterEach<S, E extends object>(reduce: Reducer<S, E>, initialState: S, events: readonly Indexed<E>[]): S[] {
  const states: S[] = []
  let state = structuredClone(initialState)
  events.forEach((original, position) => {
    const event = structuredClone(original)
    let next: S
    try {
      next = reduce(state, event)
    } catch (error) {
      throw new TestAssertionError(`reduce threw for ${eventLabel(original, position)}: ${(error as Error)?.message ?? String(error)}`)
    }
    if (next === undefined) {
      throw new TestAssertionError(`reduce returned undefined for ${eventLabel(original, position)}; return state itself to ignore an event`)
    }
    const changed = firstDifference(event, original, 'event')
    if (changed !== undefined) {
      throw new TestAssertionError(
        `reduce changed ${eventLabel(original, position)} it was given (${changed}); a reducer must leave events as they are: ` +
          'every replay and every other reader of the log gets the event as stored',
        { actual: event, expected: original },
      )
    }
    states.push(structuredClone(next))
    state = next
  })
  return states
}

/**
 * Runs `reduce` twice over the same events, each time from a copy of
 * `initialState`, and resolves with the final state. Fails, naming the event
 * at fault, if the two runs give different states after some event (the
 * reducer reads the clock, random numbers or something outside its
 * arguments, so a replay would build another read model), if it changes an
 * event it is given, returns `undefined` or throws.
 *
 * @returns The state after the last event (`initialState` for no events).
 * @throws `TestAssertionError` naming the event at fault.
 * @example
 * import { assertDeterministic } from 'tiny-event-sourcing/testing'
 *
 * assertDeterministic(reduce, { byUrl: {} }, [{ type: 'bookmark', url: 'https://a.example' }])
 */
export function assertDeterministic<S, E extends object>(reduce: Reducer<S, E>, initialState: S, events: readonly E[]): S {
  const delivered = asDelivered(events)
  const first = statesAfterEach(reduce, initialState, delivered)
  const second = statesAfterEach(reduce, initialState, delivered)
  for (let position = 0; position < delivered.length; position++) {
    const difference = firstDifference(second[position], first[position], 'state')
    if (difference !== undefined) {
      throw new TestAssertionError(
        `reduce is not deterministic: two runs over the same events gave different states after ${eventLabel(delivered[position], position)} ` +
          `(${difference}); a reducer must depend on its state and event only, not on Date.now(), Math.random() or variables outside it`,
        { actual: second[position], expected: first[position] },
      )
    }
  }
  return first.length === 0 ? structuredClone(initialState) : first[first.length - 1]!
}
