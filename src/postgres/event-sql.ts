/**
 * The SQL that looks into an event's JSON, written once for every statement
 * and function that needs it: which columns an event fills from its record,
 * and which events a filter selects.
 */

import type { EventFilter } from '../core/filter.js'

/**
 * `json` (an SQL expression of type `json`) as PostgreSQL's JSON operators
 * can read it. They fail on a whole text holding `\u0000` anywhere (NUL has
 * no place in PostgreSQL's text), although `json` stores it and JSON allows
 * it; so such a text is given to them as a copy with every `\u0000` escape
 * made `\u0001` (inside `\\u0000`, an escaped backslash and `u0000`, it
 * stays valid JSON too). Only a value holding NUL itself reads differently;
 * the stored event is untouched. `readableValue` does the same to a value
 * compared with such a text.
 */
export function readableJson(json: string): string {
  return `(CASE WHEN strpos((${json})::text, E'\\\\u0000') = 0 THEN (${json}) ELSE replace((${json})::text, E'\\\\u0000', E'\\\\u0001')::json END)`
}

/** A JSON text as `readableJson` makes it, done before it is sent. */
export function readableValue(json: string): string {
  return json.replaceAll('\\u0000', '\\u0001')
}

/** SQL expressions of the arrays `metadataArrays` makes, one element per record (or NULL: none has metadata). */
export interface MetadataArrays {
  /** `bigint[]`: `_meta.at` in milliseconds since 1970. */
  at: string
  /** `bigint[]`: `_meta.causedBy`. */
  causedBy: string
  /** `text[]`: `_meta.correlationId`. */
  correlationId: string
}

/**
 * The `FROM` items that turn a JSON array of records (`records`, an SQL
 * expression of type `json`) and the metadata arrays into rows
 * `e (value, at_ms, caused_by, correlation_id, ordinality)`, with each
 * record's `type` taken out once as `raw.type` (`OFFSET 0` keeps the planner
 * from copying the extraction into each use, which would parse the record
 * again for each).
 */
export function recordsFrom(records: string, metadata: MetadataArrays): string {
  return `ROWS FROM (json_array_elements(${records}), unnest(${metadata.at}), unnest(${metadata.causedBy}), unnest(${metadata.correlationId}))
      WITH ORDINALITY AS e(value, at_ms, caused_by, correlation_id, ordinality),
    LATERAL (SELECT ${readableJson('e.value')} -> 'type' AS type OFFSET 0) AS raw`
}

/** The `type` column's value for an event whose `type` field is `typeJson` (`json`): the type when it is a string, else NULL. */
export function typeColumn(typeJson: string): string {
  return `CASE WHEN json_typeof(${typeJson}) = 'string' THEN (${typeJson}) #>> '{}' END`
}

/** The columns `type, at, caused_by, correlation_id`, in that order. */
export const metadataColumns = 'type, at, caused_by, correlation_id'

/** Their values for a row of `recordsFrom`: the record's `type` when it is a string (as a filter on types requires), and its `_meta`. */
export const metadataValues = `${typeColumn('raw.type')}, timestamptz 'epoch' + e.at_ms * interval '1 millisecond', e.caused_by, e.correlation_id`

/** `_meta.at` as the log writes it (`Date#toISOString`, UTC with milliseconds). */
const isoTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/

/**
 * The `_meta` fields of each record, as the arrays `recordsFrom` zips with
 * the records, or `null`s when no record has any (`metadata: false`).
 *
 * Taken in JavaScript from the end of the text, where the log puts `_meta`
 * (the last field; a user's own top-level `_meta` is refused), parsing only
 * that small object: cheaper than any JSON function of PostgreSQL on the
 * whole record. A `_meta` nested in the user's data at the end of a record
 * is followed by more than the record's one closing brace, so it does not
 * parse as the tail and is never taken for the log's. A field of another
 * shape (a record copied from a 0.2.x file may hold a user's own `_meta`)
 * leaves its column NULL.
 */
export function metadataArrays(records: readonly string[]): [(number | null)[] | null, (number | null)[] | null, (string | null)[] | null] {
  let any = false
  const at: (number | null)[] = []
  const causedBy: (number | null)[] = []
  const correlationId: (string | null)[] = []
  for (const record of records) {
    const meta = metaOf(record)
    let time: number | null = null
    if (meta !== undefined) {
      any = true
      if (typeof meta.at === 'string' && isoTime.test(meta.at)) {
        const ms = Date.parse(meta.at)
        if (!Number.isNaN(ms)) time = ms
      }
    }
    at.push(time)
    causedBy.push(meta !== undefined && Number.isSafeInteger(meta.causedBy) ? (meta.causedBy as number) : null)
    correlationId.push(meta !== undefined && typeof meta.correlationId === 'string' ? meta.correlationId : null)
  }
  return any ? [at, causedBy, correlationId] : [null, null, null]
}

/** The `_meta` object that ends `record` (`{…,"_meta":{…}}`), if it has one. */
function metaOf(record: string): Record<string, unknown> | undefined {
  // The record's closing brace, right after the closing brace of _meta's object.
  if (record.charCodeAt(record.length - 2) !== 0x7d) return undefined
  const key = record.lastIndexOf('"_meta":{')
  if (key < 1) return undefined
  const before = record.charCodeAt(key - 1)
  if (before !== 0x2c && before !== 0x7b) return undefined // "," or "{"
  try {
    const meta: unknown = JSON.parse(record.slice(key + 8, -1))
    return typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? (meta as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** Where a filter fragment finds what it compares: SQL expressions (parameters in a statement, variables in a function). */
export interface FilterSqlInputs {
  /** The `events` row's alias. */
  row: string
  /** A `text[]` of event types; leave it out when the filter names no types. */
  types?: string
  /** For each field of the filter's `where`: its name (`text`) and its value (`jsonb`, made by `readableValue`). */
  where?: readonly { field: string; value: string }[]
}

/**
 * The condition that an events row matches a filter, selecting exactly the
 * events `matchesFilter` selects:
 *
 * - `types`: the `type` column, which holds the event's `type` only when it is
 *   a string (so `types: ['5']` does not select `{ type: 5 }`), one of them;
 * - `where`: each field's value equal as JSON to the given one. `jsonb`
 *   equality is JSON equality (objects in any key order, numbers by value), a
 *   missing field equals nothing, and `index`, not part of the stored JSON, is
 *   compared with the `index` column, as the log compares the delivered event.
 *
 * Only the field's value is converted to `jsonb`, never the whole event, and
 * the event is read through `readableJson`: a `json` event may hold text
 * (`\u0000`) that `jsonb` refuses.
 */
export function filterCondition({ row, types, where = [] }: FilterSqlInputs): string {
  const parts: string[] = []
  if (types !== undefined) parts.push(`${row}.type = ANY(${types})`)
  for (const { field, value } of where) {
    parts.push(`(CASE WHEN ${field} = 'index' THEN to_jsonb(${row}.index) ELSE (${readableJson(`${row}.event`)} -> ${field})::jsonb END) = ${value}`)
  }
  return parts.length === 0 ? 'true' : parts.join(' AND ')
}

/** A filter's `where` as two arrays: field names, and their values as JSON texts made by `readableValue`. */
export function whereArrays(filter: EventFilter): { fields: string[]; values: string[] } {
  const fields: string[] = []
  const values: string[] = []
  if (filter.where !== undefined) {
    for (const field of Object.keys(filter.where)) {
      fields.push(field)
      values.push(readableValue(JSON.stringify(filter.where[field])))
    }
  }
  return { fields, values }
}
