/**
 * `--since` and `--until`: moments given as ISO times or as durations ago
 * (`90s`, `15m`, `1h`, `2d`, `1w`), and the events' own times, which the log
 * stores in `_meta.at`. Events written before times were recorded (0.2.x
 * logs, or `metadata: false`) have none: a time range cannot place them.
 */
import { UsageError, type OptionValues } from './command.js'

const unitMs: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** Help lines of `--since`/`--until`, the same in every command that has them. */
export const timeRangeHelp = `      --since <TIME>     Only events appended at TIME or later: an ISO time
                         (2026-12-01, 2026-12-01T21:30Z) or a duration ago (30m, 1h, 2d, 1w)
      --until <TIME>     Only events appended at TIME or earlier (same forms)
                         Events without a time (written by 0.2.x, or with
                         metadata: false) are left out by both, and counted on stderr`

export const timeRangeOptions = { since: { type: 'string' }, until: { type: 'string' } } as const

/**
 * The moment `text` names, in ms since the epoch: an ISO 8601 date or time
 * (UTC unless it says otherwise; a date alone is its midnight UTC), or a
 * duration before `now` such as `1h` or `2d`.
 */
export function parseMoment(text: string, option: string, now = Date.now()): number {
  const ago = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text.trim())
  if (ago) return now - Number(ago[1]) * unitMs[ago[2]!]!
  // Date.parse reads a date-time without zone as local time: the log's times are UTC, and so are the user's unless they say.
  const iso = /^\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/.exec(text.trim())
  if (iso) {
    const normalized = text.trim().replace(' ', 'T')
    const ms = Date.parse(iso[1] === undefined && normalized.length > 10 ? `${normalized}Z` : normalized)
    if (!Number.isNaN(ms)) return ms
  }
  throw new UsageError(`--${option} expects an ISO time such as 2026-12-01T21:30Z, or a duration ago such as 30m, 1h, 2d or 1w; got '${text}'`)
}

/** When `event` was appended (ms since the epoch), or `undefined` for an event stored without a time. */
export function eventTime(event: { readonly _meta?: { readonly at?: string } }): number | undefined {
  const at = event._meta?.at
  if (typeof at !== 'string') return undefined
  const ms = Date.parse(at)
  return Number.isNaN(ms) ? undefined : ms
}

/** The range `--since`/`--until` select, both bounds included; either may be open. */
export interface TimeRange {
  since: number | undefined
  until: number | undefined
}

/** The range of `--since`/`--until`, or `undefined` when neither is given. */
export function timeRangeOption(values: OptionValues, now = Date.now()): TimeRange | undefined {
  const since = values.since === undefined ? undefined : parseMoment(String(values.since), 'since', now)
  const until = values.until === undefined ? undefined : parseMoment(String(values.until), 'until', now)
  if (since === undefined && until === undefined) return undefined
  if (since !== undefined && until !== undefined && until < since) {
    throw new UsageError(`--until ${new Date(until).toISOString()} is before --since ${new Date(since).toISOString()}; nothing would be printed`)
  }
  return { since, until }
}

/** Whether the time `ms` lies in `range`. */
export function inRange(ms: number, range: TimeRange): boolean {
  return (range.since === undefined || ms >= range.since) && (range.until === undefined || ms <= range.until)
}

/** `2026-12-01 21:30:05` (UTC, to the second): short enough for a table column. */
export function formatMoment(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ')
}
