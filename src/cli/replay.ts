/** A reducer module replayed over a log in memory: what `try` prints and what `inspect --try` shows. */
import type { Indexed, Log } from '../index.js'
import { UsageError } from './command.js'
import { loadModule } from './load-module.js'
import { eventsStoredNow } from './read-log.js'
import { eventTime } from './time-range.js'

type StoredEvent = Indexed<Record<string, unknown>>
type Reduce = (state: unknown, event: StoredEvent) => unknown

/** Where replaying stops: at an index, or at the last event appended at or before a time. */
export type Until = { index: number } | { at: number }

/** A reducer module's exports. */
export interface Reducer {
  reduce: Reduce
  initialState: unknown
  upcast?: (event: StoredEvent) => object
}

/** A reducer module: `reduce` and `initialState` as named exports, or on its default export (an `upcast` too, if it has one). */
export async function loadReducer(modulePath: string): Promise<Reducer> {
  const loaded = await loadModule(modulePath, 'try', 'a module exporting reduce and initialState')
  const source = (typeof loaded.reduce === 'function' ? loaded : loaded.default) as Record<string, unknown> | undefined
  if (typeof source?.reduce !== 'function' || !('initialState' in source)) {
    throw new UsageError(
      `${modulePath} must export reduce and initialState: export const initialState = { … }; export function reduce(state, event) { …; return state }`,
    )
  }
  return {
    reduce: source.reduce as Reduce,
    initialState: source.initialState,
    ...(typeof source.upcast === 'function' ? { upcast: source.upcast as (event: StoredEvent) => object } : {}),
  }
}

/** A stack trace down to the reducer's own frames: those of this command say nothing to its user. */
function withoutOwnFrames(stack: string): string {
  const own = new URL(import.meta.url).pathname
  return stack
    .split('\n')
    .filter((line) => !line.includes(own))
    .join('\n')
}

/**
 * Replays `log` (named `filename` in messages) through `reducer` from its
 * first event up to `until` (default: the last stored now), in memory, and
 * resolves with the state as a state store would keep it (as JSON). Rejects
 * naming the index and type of the event a throwing reducer threw at.
 */
export async function replayLog(
  log: Log<Record<string, unknown>>,
  reducer: Reducer,
  filename: string,
  until?: Until,
): Promise<{ state: unknown; count: number; last: number }> {
  const { reduce, upcast } = reducer
  // A fresh copy each time, so a reducer that changes its state in place leaves the module's own object as it was.
  let state = structuredClone(reducer.initialState)
  let count = 0
  let last = -1
  const lastIndex = until !== undefined && 'index' in until ? until.index : undefined
  for await (const stored of eventsStoredNow(log, -1, lastIndex)) {
    if (until !== undefined && 'at' in until) {
      const at = eventTime(stored)
      if (at !== undefined && at > until.at) break
    }
    const event = upcast === undefined ? stored : ({ ...upcast(stored), index: stored.index, _meta: stored._meta } as StoredEvent)
    try {
      state = reduce(state, event)
    } catch (error) {
      const type = typeof event.type === 'string' ? `type ${JSON.stringify(event.type)}` : 'no type'
      const message = error instanceof Error ? withoutOwnFrames(error.stack ?? error.message) : String(error)
      throw new Error(`reduce threw at event ${event.index} (${type}) of ${filename}; nothing was written:\n${message}`, { cause: error })
    }
    if (state === undefined) throw new Error(`reduce returned undefined for event ${event.index} of ${filename}; return state itself to ignore an event`)
    count++
    last = event.index
  }
  return { state: JSON.parse(JSON.stringify(state) ?? 'null'), count, last }
}
