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
 * it; so they are given a copy with every `\u0000` escape made `\u0001`
 * (inside `\\u0000`, an escaped backslash and `u0000`, it stays valid JSON
 * too). Only a value holding NUL itself reads differently; the stored event
 * is untouched.
 */
export function readableJson(json: string): string {
  return `replace((${json})::text, E'\\\\u0000', E'\\\\u0001')::json`
}

/**
 * The `FROM` items that turn a JSON array of records (`array`, an SQL
 * expression of type `json`) into rows `e (value, ordinality)`, with each
 * record's `type` and `_meta` taken out once (`OFFSET 0` keeps the planner
 * from copying the extraction into every column that uses it, which would
 * parse the record again for each).
 */
export function recordsFrom(array: string): string {
  return `json_array_elements(${array}) WITH ORDINALITY AS e,
    LATERAL (SELECT r.json -> 'type' AS type, r.json -> '_meta' AS meta FROM (SELECT ${readableJson('e.value')} AS json OFFSET 0) AS r OFFSET 0) AS raw,
    LATERAL (SELECT CASE WHEN json_typeof(raw.meta) = 'object' THEN raw.meta::jsonb END AS meta OFFSET 0) AS m`
}

/** The `type` column's value for an event whose `type` field is `typeJson` (`json`): the type when it is a string, else NULL. */
export function typeColumn(typeJson: string): string {
  return `CASE WHEN json_typeof(${typeJson}) = 'string' THEN (${typeJson}) #>> '{}' END`
}

/** The columns `type, at, caused_by, correlation_id`, in that order. */
export const metadataColumns = 'type, at, caused_by, correlation_id'

/**
 * Their values for a row of `recordsFrom`: copies of the record's `type` (when
 * it is a string, as a filter on types requires) and `_meta` fields. A field
 * of another shape (a record written before `_meta` existed may hold a user's
 * own `_meta`) leaves its column NULL rather than failing the append.
 */
export const metadataValues = `${typeColumn('raw.type')},
    CASE WHEN m.meta ->> 'at' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?Z$' THEN (m.meta ->> 'at')::timestamptz END,
    CASE WHEN jsonb_typeof(m.meta -> 'causedBy') = 'number' THEN (m.meta -> 'causedBy')::bigint END,
    CASE WHEN jsonb_typeof(m.meta -> 'correlationId') = 'string' THEN m.meta ->> 'correlationId' END`

/** Where a filter fragment finds what it compares: SQL expressions (parameters in a statement, arguments in a function). */
export interface FilterSqlInputs {
  /** The `events` row's alias. */
  row: string
  /** A `text[]` of event types; leave it out when the filter names no types. */
  types?: string
  /** A `text[]` of field names and a `text[]` of their values as JSON texts, pairwise; leave both out when the filter has no `where`. */
  fields?: string
  values?: string
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
 * The field values are converted to `jsonb` one by one, never the whole
 * event, and read through `readableJson`: a `json` event may hold text
 * (`\u0000`) that `jsonb` refuses.
 */
export function filterCondition({ row, types, fields, values }: FilterSqlInputs): string {
  const parts: string[] = []
  if (types !== undefined) parts.push(`${row}.type = ANY(${types})`)
  if (fields !== undefined && values !== undefined) {
    parts.push(`NOT EXISTS (SELECT FROM unnest(${fields}, ${values}) AS w(field, value)
      WHERE (CASE WHEN w.field = 'index' THEN to_jsonb(${row}.index) ELSE (${readableJson(`${row}.event`)} -> w.field)::jsonb END)
        IS DISTINCT FROM ${readableJson('w.value')}::jsonb)`)
  }
  return parts.length === 0 ? 'true' : parts.join(' AND ')
}

/** A filter's `where` as the two arrays `filterCondition` reads: field names, and their values as JSON texts. */
export function whereArrays(filter: EventFilter): { fields: string[]; values: string[] } {
  const fields: string[] = []
  const values: string[] = []
  if (filter.where !== undefined) {
    for (const field of Object.keys(filter.where)) {
      fields.push(field)
      values.push(JSON.stringify(filter.where[field]))
    }
  }
  return { fields, values }
}
