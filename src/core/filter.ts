import { usageError } from './errors.js'
import { jsonProblem } from './serialize.js'

/** Which events a reader wants, or an append's condition is about. */
export interface EventFilter {
  /** Only events whose `type` field is one of these. */
  readonly types?: readonly string[]
  /**
   * Only events whose fields have these values, compared as JSON:
   * `{ url: 'https://…' }` matches events with exactly that `url`.
   */
  readonly where?: Readonly<Record<string, unknown>>
}

/**
 * The condition of an append about one entity: it fails with
 * `AppendConflictError` if an event after index `after` matches the filter
 * (another writer decided about the same thing meanwhile).
 */
export interface AppendCondition extends EventFilter {
  /** The last index the decision was based on: events up to here are what the caller read. */
  readonly after: number
}

/** Throws a usage error naming the value at fault unless `filter` is a filter `call` can take; nothing has happened yet. */
export function checkFilter(filter: EventFilter, call: string): void {
  if (typeof filter !== 'object' || filter === null) throw usageError(`${call} takes a filter such as { types: ['bookmark'] }, got ${String(filter)}`)
  const { types, where } = filter
  if (types !== undefined) {
    if (!Array.isArray(types) || types.length === 0 || !types.every((type) => typeof type === 'string')) {
      throw usageError(`${call}: types takes a non-empty list of event types such as ['bookmark'], got ${JSON.stringify(types) ?? String(types)}`)
    }
  }
  if (where !== undefined) {
    if (typeof where !== 'object' || where === null || Array.isArray(where)) {
      throw usageError(`${call}: where takes an object of field values such as { url: 'https://…' }, got ${String(where)}`)
    }
    for (const field of Object.keys(where)) {
      // Positions and metadata are the log's, not the event's: every storage selects events by their own fields only.
      if (field === 'index' || field === '_meta') {
        throw usageError(`${call}: where.${field} is the log's, not a field of the event; select positions with after and until`)
      }
      const problem = jsonProblem(where[field], `where.${field}`)
      if (problem) throw usageError(`${call}: ${problem}; compare fields with JSON values only`)
    }
  }
}

/** Whether two JSON values are equal as JSON: the same scalars, arrays element by element, objects key by key in any order. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]))
  if (Array.isArray(b)) return false
  const aKeys = Object.keys(a).filter((key) => (a as Record<string, unknown>)[key] !== undefined)
  const bKeys = Object.keys(b).filter((key) => (b as Record<string, unknown>)[key] !== undefined)
  return aKeys.length === bKeys.length && aKeys.every((key) => jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
}

/** Whether `event` is one of those `filter` selects. An empty filter selects every event. */
export function matchesFilter(event: Readonly<Record<string, unknown>>, filter: EventFilter): boolean {
  if (filter.types !== undefined && !filter.types.includes(event.type as string)) return false
  if (filter.where !== undefined) {
    for (const field in filter.where) if (!jsonEqual(event[field], filter.where[field])) return false
  }
  return true
}

/**
 * A cheap test on a record's text, before parsing it: `false` when the event
 * it holds cannot match `filter`, `true` when it may (then parse it and ask
 * `matchesFilter`). Valid for texts made by `JSON.stringify`, such as the
 * records the log itself builds: an event whose `type` is `"bookmark"` holds
 * the text `"type":"bookmark"`, and one whose `url` equals a string or
 * number holds `"url":` followed by that value's JSON. Fields compared with
 * an object or an array are left to `matchesFilter` (their key order may differ).
 */
export function recordMayMatch(filter: EventFilter): (record: string) => boolean {
  const typeTexts = filter.types?.map((type) => `"type":${JSON.stringify(type)}`)
  const whereTexts: string[] = []
  for (const field in filter.where) {
    const value = filter.where[field]
    if (typeof value !== 'object' || value === null) whereTexts.push(`${JSON.stringify(field)}:${JSON.stringify(value)}`)
  }
  return (record) => {
    if (typeTexts !== undefined) {
      let found = false
      for (let i = 0; i < typeTexts.length && !found; i++) found = record.includes(typeTexts[i]!)
      if (!found) return false
    }
    for (let i = 0; i < whereTexts.length; i++) if (!record.includes(whereTexts[i]!)) return false
    return true
  }
}
