/**
 * How an atomic batch (`log.appendAll`) is marked in the file, so that one a
 * crash cut short is recognised on open and set aside whole: every line of
 * the batch but its last carries `"batchRemaining": k` in its `_meta`, the
 * number of lines of the same batch after it. A batch's last line, and the
 * line of every single append, carry nothing: their format is unchanged.
 *
 * Counting down (rather than marking only the first line with the batch's
 * size) lets the end of the file say by itself whether it ends inside a
 * batch: the last line is marked exactly when lines of its batch are
 * missing, and finding where that batch starts reads only the batch, never
 * the rest of the file.
 */
import { CorruptLogError } from '../core/errors.js'
import { type Line, type LogFile, indexOf, isObject, parseObject } from './log-file.js'

/** The field of `_meta` that marks a line of an atomic batch. */
export const batchMarker = 'batchRemaining'

/**
 * `record` (JSON text of an object, `_meta` last if it has one) with
 * `"batchRemaining": remaining` added to its `_meta`, which is created (as the
 * last field) if the record has none.
 */
export function markBatchLine(record: string, remaining: number): string {
  const marker = `"${batchMarker}":${remaining}`
  const metaStart = trailingMetaStart(record)
  if (metaStart === undefined) return record.length === 2 ? `{"_meta":{${marker}}}` : `${record.slice(0, -1)},"_meta":{${marker}}}`
  // `_meta` closes just before the record does: put the marker before its `}`.
  const emptyMeta = metaStart === record.length - 3
  return `${record.slice(0, -2)}${emptyMeta ? '' : ','}${marker}}}`
}

/**
 * Where the object of the record's top-level `_meta` starts, if `_meta` is
 * the record's last field; otherwise (no `_meta`, or only a nested one)
 * `undefined`. A `"_meta":{` in the text is a key, never part of a string
 * (quotes in strings are escaped), but it may be the key of a nested object:
 * the top-level one is the one whose object ends where the record does.
 */
function trailingMetaStart(record: string): number | undefined {
  if (!record.endsWith('}}')) return undefined
  const key = record.lastIndexOf('"_meta":{')
  if (key === -1 || (record[key - 1] !== ',' && key !== 1)) return undefined
  const start = key + '"_meta":'.length
  let depth = 0
  let inString = false
  for (let at = start; at < record.length; at++) {
    const char = record[at]
    if (inString) {
      if (char === '\\') at++
      else if (char === '"') inString = false
    } else if (char === '"') inString = true
    else if (char === '{' || char === '[') depth++
    else if (char === '}' || char === ']') {
      depth--
      if (depth === 0) return at === record.length - 2 ? start : undefined
    }
  }
  return undefined
}

/** The marker of a parsed line: how many lines of its atomic batch follow it, or `undefined` if it ends its batch (or is a single append). */
export function batchRemaining(event: Readonly<Record<string, unknown>>): number | undefined {
  const meta = event._meta
  if (!isObject(meta)) return undefined
  const remaining = meta[batchMarker]
  return Number.isInteger(remaining) && (remaining as number) > 0 ? (remaining as number) : undefined
}

/**
 * Takes the marker off an event read from the file: it says how the event
 * was written, not what it is, and events appended and read back, or served
 * from memory, or stored elsewhere, have none. A `_meta` left empty goes too.
 */
export function withoutBatchMarker(event: Record<string, unknown>): void {
  const meta = event._meta as Record<string, unknown>
  delete meta[batchMarker]
  for (const _ in meta) return
  delete event._meta
}

/** A line of the file and the event on it. */
export interface EventLine extends Line {
  readonly event: Record<string, unknown>
  readonly index: number
}

/**
 * If `last` (the last event in the file, at or after `floor`) is a line of
 * an atomic batch whose later lines are missing, the first line of that
 * batch; `undefined` if `last` ends its batch. Reads backwards through the
 * batch only. A marked line not followed by the rest of its batch anywhere
 * but at the end is damage, reported as `CorruptLogError`.
 */
export async function incompleteBatchStart(file: LogFile, last: EventLine, floor: number): Promise<EventLine | undefined> {
  let remaining = batchRemaining(last.event)
  if (remaining === undefined) return undefined
  let first = last
  for (;;) {
    const { lastLine: previous } = await file.lastLine(floor, first.start)
    if (previous === undefined) return first
    const event = parseObject(previous.text)
    const index = indexOf(event)
    if (event === undefined || index === undefined) return first // reported as not an event by whoever reads it
    const previousRemaining = batchRemaining(event)
    if (previousRemaining === undefined) return first // the end of the batch or single append before this one
    if (previousRemaining !== remaining + 1 || index !== first.index - 1) {
      const line = await file.lineNumberAt(previous.start)
      throw new CorruptLogError(
        file.name,
        line,
        `line ${line} is marked as followed by ${previousRemaining} more lines of its atomic batch, but the next line is not the next of them: lines were removed, moved or edited by hand`,
        'Fix or remove those lines; nothing was changed',
      )
    }
    first = { ...previous, event, index }
    remaining = previousRemaining
  }
}
