/**
 * A first pass over a log file that reads each event's type, time and cause
 * from its line's text without parsing the whole line: the line format puts
 * `_meta` last before `index` (see docs/file-formats.md), so both are found
 * from the line's end. It is what lets the timeline and the browser of a log
 * of a million events show within a couple of seconds, while the field
 * catalogue, which needs every field, follows through the log itself.
 *
 * It stops at the first line it cannot read this way (a line the format does
 * not describe, an index out of order): the caller goes on from there
 * through the log, which knows every case.
 */
import { open } from 'node:fs/promises'

const chunkBytes = 8 * 1024 * 1024
const typePrefix = '{"type":"'
const indexKey = ',"index":'
const metaKey = '"_meta":{'
const atKey = '"at":"'
const causedByKey = '"causedBy":'
/** How far before the index `_meta` is looked for; a longer one (a long correlation id) is read by parsing the line. */
const metaWindow = 400

/** The last `YYYY-MM-DDTHH:MM` read and its ms: times never go backwards, so most events share their minute with the one before. */
let lastMinute = ''
let lastMinuteMs = 0

/** The time `YYYY-MM-DDTHH:MM:SS.mmmZ` at `from` in `text` (checked by the caller), in ms since the epoch. */
function parseAt(text: string, from: number): number {
  if (!text.startsWith(lastMinute, from) || lastMinute === '') {
    lastMinute = text.slice(from, from + 16)
    lastMinuteMs = Date.parse(`${lastMinute}:00.000Z`)
  }
  const digit = (i: number) => text.charCodeAt(from + i) - 48
  return lastMinuteMs + (digit(17) * 10 + digit(18)) * 1000 + digit(20) * 100 + digit(21) * 10 + digit(22)
}

/** What the first pass hands over for each event. */
export type ScannedEvent = (index: number, type: string | undefined, at: number | undefined, causedBy: number | undefined) => void

/**
 * Reads events 0 to `length - 1` of `filename` by their lines' text, calling
 * `onEvent` for each, and resolves with how many it read: `length`, or fewer
 * where a line was not one it can read this way.
 */
export async function fastScan(filename: string, length: number, onEvent: ScannedEvent, signal: AbortSignal): Promise<number> {
  const file = await open(filename, 'r')
  let expected = 0
  try {
    const buffer = Buffer.allocUnsafe(chunkBytes)
    let carried = 0
    let position = 0
    while (expected < length && !signal.aborted) {
      const { bytesRead } = await file.read(buffer, carried, chunkBytes - carried, position)
      position += bytesRead
      const filled = carried + bytesRead
      const lastNewline = buffer.lastIndexOf(0x0a, filled - 1)
      if (lastNewline < 0) {
        // A line longer than the chunk, or the file's end without a newline: the log reads it.
        return expected
      }
      const text = buffer.toString('utf8', 0, lastNewline + 1)
      let start = 0
      // Searches run on the chunk's text between known bounds: slicing every line would cost more than reading it.
      while (start < text.length && expected < length) {
        const end = text.indexOf('\n', start)
        if (end < 0) break
        const lineStart = start
        start = end + 1
        let last = end - 1
        if (last >= lineStart && text.charCodeAt(last) === 13 /* \r */) last--
        if (last < lineStart || (text.charCodeAt(lineStart) !== 123 /* { */ && text.slice(lineStart, last + 1).trim() === '')) continue
        // The index, last on the line.
        const indexAt = text.lastIndexOf(indexKey, last)
        if (indexAt < lineStart || text.charCodeAt(last) !== 125 /* } */) return expected
        let index = 0
        for (let i = indexAt + indexKey.length; i < last; i++) {
          const digit = text.charCodeAt(i) - 48
          if (digit < 0 || digit > 9) return expected
          index = index * 10 + digit
        }
        if (index !== expected) return expected
        let type: string | undefined
        let at: number | undefined
        let causedBy: number | undefined
        let parsed: Record<string, unknown> | undefined
        // The type: first on the line as the library writes events.
        const quote = text.startsWith(typePrefix, lineStart) ? text.indexOf('"', lineStart + typePrefix.length) : -1
        if (quote > 0 && quote < indexAt && text.charCodeAt(quote - 1) !== 92 /* \\ */) type = text.slice(lineStart + typePrefix.length, quote)
        else {
          parsed = JSON.parse(text.slice(lineStart, last + 1)) as Record<string, unknown>
          type = typeof parsed.type === 'string' ? parsed.type : undefined
        }
        // _meta, just before the index: an object of strings and numbers, so it ends with one brace, never two.
        if (text.charCodeAt(indexAt - 1) === 125 && text.charCodeAt(indexAt - 2) !== 125) {
          // Searched for in the few characters before the index only: an unbounded search would run on into other lines.
          const window = text.slice(Math.max(lineStart, indexAt - metaWindow), indexAt)
          const metaAt = window.lastIndexOf(metaKey)
          if (metaAt >= 0) {
            const from = metaAt + metaKey.length
            const atFrom = from + atKey.length
            if (
              window.startsWith(atKey, from) &&
              window.charCodeAt(atFrom + 24) === 34 /* " */ &&
              window.charCodeAt(atFrom + 23) === 90 /* Z */ &&
              window.charCodeAt(atFrom + 19) === 46 /* . */
            ) {
              const ms = parseAt(window, atFrom)
              if (!Number.isNaN(ms)) at = ms
            } else if (window.includes('"at":', from)) parsed ??= JSON.parse(text.slice(lineStart, last + 1))
            const causeAt = window.indexOf(causedByKey, from)
            if (causeAt > 0) {
              let cause = 0
              let i = causeAt + causedByKey.length
              for (let digit = window.charCodeAt(i) - 48; digit >= 0 && digit <= 9; digit = window.charCodeAt(++i) - 48) cause = cause * 10 + digit
              causedBy = cause
            }
          } else if (indexAt - lineStart > metaWindow) parsed ??= JSON.parse(text.slice(lineStart, last + 1)) // perhaps a long _meta: the line is read whole
        }
        if (parsed !== undefined) {
          const meta = parsed._meta as { at?: unknown; causedBy?: unknown } | undefined
          at = typeof meta?.at === 'string' && !Number.isNaN(Date.parse(meta.at)) ? Date.parse(meta.at) : undefined
          causedBy = typeof meta?.causedBy === 'number' ? meta.causedBy : undefined
        }
        onEvent(index, type, at, causedBy)
        expected++
      }
      // The bytes after the last newline start the next chunk.
      carried = filled - (lastNewline + 1)
      buffer.copy(buffer, 0, lastNewline + 1, filled)
      if (bytesRead === 0) return expected
    }
    return expected
  } finally {
    await file.close()
  }
}
