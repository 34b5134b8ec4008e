/**
 * Which log an iterator from `log.events()` reads, and after which index it
 * started: what `catchupSubscribe` needs to give its handler an `append`
 * caused by the event in hand, and to find the events it appended before a
 * crash. Kept beside the iterator rather than on it, so the iterator stays a
 * plain async iterator.
 */

import type { Log } from './log.js'

export interface EventSource {
  readonly log: Log<object>
  /** The index the iteration started after (`-1`: from the start). */
  readonly after: number
}

const sources = new WeakMap<object, EventSource>()

/** Records that `iterator` reads `log` from `after + 1`; returns the iterator. */
export function rememberSource<I extends object, E extends object>(iterator: I, log: Log<E>, after: number): I {
  sources.set(iterator, { log: log as unknown as Log<object>, after })
  return iterator
}

/** The log `events` iterates, if it is an iterator from `log.events()`. */
export function sourceOf(events: unknown): EventSource | undefined {
  return typeof events === 'object' && events !== null ? sources.get(events) : undefined
}
