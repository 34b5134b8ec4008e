/**
 * Which events `cat` and `tail` print: by type and field value (the
 * library's own filter, so the command line selects exactly what
 * `log.events({ types, where })` does), by time, and by causation.
 */
import { checkFilter, matchesFilter, type EventFilter } from '../core/filter.js'
import type { Indexed } from '../index.js'
import { listOption, UsageError, wholeNumberOption, type OptionValues } from './command.js'
import { plural } from './format.js'
import { eventTime, inRange, timeRangeOption, type TimeRange } from './time-range.js'

export const selectionOptions = {
  type: { type: 'string', short: 't', multiple: true },
  where: { type: 'string', short: 'w', multiple: true },
} as const

export const selectionHelp = `  -t, --type <T>         Only events whose "type" is T (repeat for several types)
  -w, --where <F=V>      Only events whose top-level field F equals V, compared as
                         JSON: V is read as JSON when it parses (3, true, null,
                         "3"), else as a string (repeat: all must hold);
                         both match events as stored, before --upcast`

/** `url=https://a.example` → `['url', 'https://a.example']`; `n=3` → `['n', 3]`. */
function parseWhere(text: string): [string, unknown] {
  const equals = text.indexOf('=')
  if (equals <= 0) throw new UsageError(`--where expects FIELD=VALUE, such as url=https://a.example or n=3; got '${text}'`)
  const raw = text.slice(equals + 1)
  let value: unknown = raw
  try {
    value = JSON.parse(raw)
  } catch {
    // Not JSON: the text itself, so URLs and words need no quotes.
  }
  return [text.slice(0, equals), value]
}

/** The `--type`/`--where` filter, checked as the library checks it, or `undefined` when neither is given. */
export function filterOption(values: OptionValues): EventFilter | undefined {
  const types = listOption(values, 'type')
  const where = listOption(values, 'where').map(parseWhere)
  if (types.length === 0 && where.length === 0) return undefined
  const filter: EventFilter = {
    ...(types.length > 0 ? { types } : {}),
    ...(where.length > 0 ? { where: Object.fromEntries(where) } : {}),
  }
  try {
    checkFilter(filter, '--type/--where')
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^tiny-event-sourcing: /, ''))
  }
  return filter
}

/** Decides event by event, in index order, which events are printed, and counts what a time range could not place. */
export class EventSelection {
  readonly filter: EventFilter | undefined
  readonly range: TimeRange | undefined
  /** `--caused-by N`: N and the events it led to, directly or through others. */
  readonly causedBy: number | undefined
  /** Events left out only because they have no time. */
  untimed = 0
  #chain = new Set<number>()

  constructor(values: OptionValues) {
    this.filter = filterOption(values)
    this.range = timeRangeOption(values)
    this.causedBy = wholeNumberOption(values, 'caused-by')
    if (this.causedBy !== undefined) this.#chain.add(this.causedBy)
  }

  /** Whether every later event is outside the time range too (times never go backwards in a log). */
  isPastRange(event: Indexed<Record<string, unknown>>): boolean {
    const ms = this.range?.until === undefined ? undefined : eventTime(event)
    return ms !== undefined && ms > this.range!.until!
  }

  /** Whether `event` is one to print. Must see every event from `firstIndex` on, in order, for causation chains. */
  accepts(event: Indexed<Record<string, unknown>>): boolean {
    if (this.causedBy !== undefined) {
      const cause = event._meta?.causedBy
      if (event.index !== this.causedBy && !(typeof cause === 'number' && this.#chain.has(cause))) return false
      this.#chain.add(event.index)
    }
    if (this.filter !== undefined && !matchesFilter(event, this.filter)) return false
    if (this.range !== undefined) {
      const ms = eventTime(event)
      if (ms === undefined) {
        this.untimed++
        return false
      }
      if (!inRange(ms, this.range)) return false
    }
    return true
  }

  /** A line for stderr about events the time range could not place, if there were any. */
  untimedNote(command: string): string | undefined {
    if (this.untimed === 0) return undefined
    return `${command}: ${plural(this.untimed, 'event has', 'events have')} no time (written by 0.2.x or with metadata: false) and ${this.untimed === 1 ? 'was' : 'were'} left out by --since/--until; select them by index with --from/--to\n`
  }
}
