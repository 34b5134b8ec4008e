/**
 * The field catalogue: for each event type, every field its events carry
 * (nested ones as `payload.url`), how often, with which JSON kinds, an
 * example, and when it was first and last seen. `stats` prints it and
 * `inspect` shows it as a table: it is the history of the data model.
 */
import type { Indexed } from '../index.js'
import { eventTime } from './time-range.js'

/** Nested objects are catalogued down to this depth (`payload.author.name` is depth 3). */
const maxDepth = 4
/** Field paths catalogued per type: objects used as maps (URLs as keys, say) would list every key. */
const maxFieldsPerType = 200
/** Beyond the catalogue, distinct paths are counted up to this many. */
export const maxUncatalogued = 100_000
/** What the catalogue calls events without a string `type`. */
export const noType = '(no type)'

/** Where something was first or last seen: the event's index, and its time when it has one. */
export interface Sighting {
  index: number
  /** ms since the epoch; absent for events stored without a time. */
  at?: number
}

/** What the catalogue knows about one field of one type. */
export interface FieldSummary {
  /** How many events of the type have this field. */
  count: number
  /** JSON kinds seen: string, number, boolean, null, object, array. */
  kinds: Set<string>
  /** The first value seen that says something (not null, not an empty string). */
  example: unknown
  first: Sighting
  last: Sighting
}

/** What the catalogue knows about one type. */
export interface TypeSummary {
  count: number
  first: Sighting
  last: Sighting
  fields: Map<string, FieldSummary>
  /** Distinct field paths seen beyond the catalogued ones, not catalogued. */
  uncatalogued: Set<string>
}

function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

function isInformative(value: unknown): boolean {
  return value !== null && value !== '' && kindOf(value) !== 'object'
}

function sighting(index: number, at: number | undefined): Sighting {
  return at === undefined ? { index } : { index, at }
}

/** Builds the catalogue one event at a time, in index order; memory stays bounded however many events. */
export class FieldCatalogue {
  readonly types = new Map<string, TypeSummary>()
  /** Events added. */
  events = 0
  /** Events added that have no time. */
  untimed = 0

  add(event: Indexed<Record<string, unknown>>): void {
    const type = typeof event.type === 'string' ? event.type : noType
    const at = eventTime(event)
    this.events++
    if (at === undefined) this.untimed++
    const seen = sighting(event.index, at)
    let summary = this.types.get(type)
    if (summary === undefined) {
      summary = { count: 0, first: seen, last: seen, fields: new Map(), uncatalogued: new Set() }
      this.types.set(type, summary)
    }
    summary.count++
    summary.last = seen
    this.#catalogue(summary, event, '', 1, seen)
  }

  /** Types, the most frequent first. */
  byCount(): [string, TypeSummary][] {
    return [...this.types.entries()].sort(([a, x], [b, y]) => y.count - x.count || a.localeCompare(b))
  }

  /** Records every field of `value` under `prefix`, descending into nested objects. */
  #catalogue(summary: TypeSummary, value: Record<string, unknown>, prefix: string, depth: number, seen: Sighting): void {
    const fields = summary.fields
    for (const key in value) {
      // Every event has an index, and _meta is what the log records about it, not the event's own data.
      if (depth === 1 && (key === 'index' || key === '_meta')) continue
      const child = value[key]
      const path = prefix + key
      let field = fields.get(path)
      if (field === undefined) {
        if (fields.size >= maxFieldsPerType) {
          // Only counted, and only up to a point, so memory stays bounded.
          if (summary.uncatalogued.size < maxUncatalogued) summary.uncatalogued.add(path)
          continue
        }
        field = { count: 0, kinds: new Set(), example: undefined, first: seen, last: seen }
        fields.set(path, field)
      }
      field.count++
      field.last = seen
      const kind = kindOf(child)
      field.kinds.add(kind)
      if (field.example === undefined && isInformative(child)) field.example = child
      if (kind === 'object' && depth < maxDepth) this.#catalogue(summary, child as Record<string, unknown>, `${path}.`, depth + 1, seen)
    }
  }
}

/** A sighting as JSON: `{ index, at }` with `at` as an ISO time, or without `at`. */
export function sightingJson(seen: Sighting): { index: number; at?: string } {
  return seen.at === undefined ? { index: seen.index } : { index: seen.index, at: new Date(seen.at).toISOString() }
}

/** The catalogue as plain JSON, for `stats --json` and the inspect page. */
export function catalogueJson(catalogue: FieldCatalogue) {
  return Object.fromEntries(
    catalogue.byCount().map(([type, summary]) => [
      type,
      {
        events: summary.count,
        firstSeen: sightingJson(summary.first),
        lastSeen: sightingJson(summary.last),
        uncataloguedFields: summary.uncatalogued.size,
        fields: Object.fromEntries(
          [...summary.fields].map(([path, field]) => [
            path,
            {
              events: field.count,
              kinds: [...field.kinds],
              example: field.example ?? null,
              firstSeen: sightingJson(field.first),
              lastSeen: sightingJson(field.last),
            },
          ]),
        ),
      },
    ]),
  )
}
