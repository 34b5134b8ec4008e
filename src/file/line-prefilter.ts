/**
 * A cheap text test that lets a filtered read step over a line without
 * parsing it, when the line cannot hold an event the filter selects.
 *
 * JSON escapes every `"` and `\` inside a string, so in a line without a
 * backslash every string value appears literally, quotes included: an event
 * whose `type` is `"bookmark"` has the text `"bookmark"` somewhere on its
 * line. A line lacking that text (and every other wanted type's) cannot
 * match. The test only ever says "cannot match"; everything else is parsed
 * and checked by `matchesFilter`, so no matching event is ever left out,
 * whatever spacing or key order a hand-edited line has. Lines with a
 * backslash are always parsed, since an escape (`\u0062ookmark`) could
 * spell a wanted value.
 *
 * Skipping a line must not hide damage: a line is only stepped over when it
 * is framed like the event expected there (it starts with `{` and ends with
 * `,"index":N}` for the very index expected), so missing, duplicated, moved
 * or renumbered lines and foreign lines are reported by filtered reads as by
 * any other. What such a read does not notice is damage inside a line it
 * steps over that leaves its framing intact; unfiltered reads and `check`
 * report it (docs/guarantees.md says so).
 *
 * It pays only where most lines can be stepped over. Testing a line costs
 * about half of parsing it (measured on lines of ~150 bytes): with one line in
 * ten selected, a read takes about 0.6× the time of parsing every line (0.55×
 * for a `where` that selects one), while a filter that selects most lines
 * would make the read 1.3× slower. So `StepOverPolicy` tests the lines of a
 * chunk only while at least three in five of a tested chunk's were stepped
 * over, and tests one chunk in eight otherwise, to notice when that changes.
 * Measured through `fileStorage().read()` on 1,000,000 such lines (CPU time,
 * reading included): one in ten selected 0.8× a full read, a `where` selecting
 * one 0.65×, a filter selecting every line 1.0×.
 */
import type { EventFilter } from '../core/filter.js'

/** Text a line must contain, one of each group, to possibly hold a selected event. */
export type LinePrefilter = readonly (readonly string[])[]

/** The texts a line of a selected event contains, or `undefined` if the filter gives none to look for. */
export function linePrefilter(filter: EventFilter | undefined): LinePrefilter | undefined {
  if (filter === undefined) return undefined
  const groups: string[][] = []
  if (filter.types !== undefined) groups.push(filter.types.map((type) => JSON.stringify(type)))
  if (filter.where !== undefined) {
    for (const field in filter.where) {
      const value = filter.where[field]
      // Only strings: a number's text (`3`) turns up on every line, in its index if nowhere else.
      if (typeof value === 'string' && value.length > 0) groups.push([JSON.stringify(value)])
    }
  }
  return groups.length > 0 ? groups : undefined
}

/** Whether `line`, the line where event `index` should be, is certainly a line of that event that the filter does not select. */
export function canStepOver(line: string, index: number, prefilter: LinePrefilter): boolean {
  // The wanted texts first: a line that has them all is parsed whatever else
  // is true of it, so a filter most lines match costs one search a line.
  let lacking = false
  for (const texts of prefilter) {
    let found = false
    for (const text of texts) {
      if (line.includes(text)) {
        found = true
        break
      }
    }
    if (!found) {
      lacking = true
      break
    }
  }
  return lacking && line.charCodeAt(0) === 0x7b /* { */ && !line.includes('\\') && line.endsWith(`,"index":${index}}`)
}

/** A tested chunk whose lines were stepped over less often than this is followed by untested ones. */
const worthwhileShare = 3 / 5
/** While testing does not pay, one chunk in this many is tested, in case that changes further on. */
const sampleEvery = 8

/** Decides, chunk by chunk of a read, whether its lines are tested with `canStepOver` or all parsed. */
export class StepOverPolicy {
  #testing = true
  #untestedChunks = 0

  /** Whether to test the lines of the next chunk. */
  testNextChunk(): boolean {
    if (!this.#testing && ++this.#untestedChunks >= sampleEvery) this.#testing = true
    return this.#testing
  }

  /** After a tested chunk: it held `events` events, of which `steppedOver` were stepped over. */
  tested(events: number, steppedOver: number): void {
    this.#testing = steppedOver >= events * worthwhileShare
    this.#untestedChunks = 0
  }
}
