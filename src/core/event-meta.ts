/**
 * The `_meta` the log adds to every appended event (see `EventMeta`): its
 * time, from a clock that never goes back within a log, and what caused it.
 * Built straight into the record text, so a storage only ever stores text.
 */

import type { EventMeta } from './log-storage.js'

/**
 * Times for the events of one log: `Date.now()` as ISO 8601 text, never
 * earlier than the last time given (or `floor`, the time of the last event
 * already stored). A clock that jumps back is held at the last time until it
 * has caught up again, so the times of a log sort like its indices.
 */
export interface AppendClock {
  /** The time of an event appended now: `2026-12-01T21:30:00.123Z`. */
  now(): string
  /** `record` (an event's JSON text) with `"_meta":{…}` added as its last field. */
  withMeta(record: string, at: string, causedBy: number | undefined, correlationId: string | undefined): string
}

/** The milliseconds of a stored `_meta.at`, or `-Infinity` when there is none to hold the clock to (an old or hand-edited line). */
export function storedTimeMs(meta: unknown): number {
  const at = typeof meta === 'object' && meta !== null ? (meta as EventMeta).at : undefined
  const ms = typeof at === 'string' ? Date.parse(at) : Number.NaN
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms
}

export function appendClock(floorMs: number): AppendClock {
  let lastMs = floorMs
  let at = Number.isFinite(floorMs) ? new Date(floorMs).toISOString() : ''
  // The text every plain append of this millisecond ends with, built once:
  // appends come in bursts of thousands a millisecond.
  let atSuffix = `,"_meta":{"at":"${at}"}}`
  return {
    now() {
      const ms = Date.now()
      if (ms > lastMs) {
        lastMs = ms
        at = new Date(ms).toISOString()
        atSuffix = `,"_meta":{"at":"${at}"}}`
      }
      return at
    },
    withMeta(record, eventAt, causedBy, correlationId) {
      // `{}` has no field for `_meta` to follow: there it is the first.
      const empty = record.length === 2
      if (causedBy === undefined && correlationId === undefined && eventAt === at) {
        return empty ? `{${atSuffix.slice(1)}` : record.slice(0, -1) + atSuffix
      }
      let meta = `"_meta":{"at":"${eventAt}"`
      if (causedBy !== undefined) meta += `,"causedBy":${causedBy}`
      if (correlationId !== undefined) meta += `,"correlationId":${JSON.stringify(correlationId)}`
      return `${empty ? '{' : `${record.slice(0, -1)},`}${meta}}}`
    },
  }
}
