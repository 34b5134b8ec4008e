/**
 * The one line-by-line reader of log files, for `check` and `repair`: unlike
 * `initLog`, which stops at the first bad line, it goes on to the end and
 * says what each line is, so a damaged file can be diagnosed and mended.
 */
import { isUtf8 } from 'node:buffer'
import { open } from 'node:fs/promises'
import { batchRemaining } from '../file/atomic-batch.js'

const newline = 0x0a
const byteOrderMark = Buffer.from([0xef, 0xbb, 0xbf])
const chunkBytes = 1024 * 1024

/** One line of the file as bytes, without its newline. */
export interface RawLine {
  /** 1-based line number. */
  number: number
  /** Byte offset of the line's first byte. */
  start: number
  bytes: Buffer
  /** False only for a last line that has no newline after it. */
  terminated: boolean
}

/** What one line of a log is. */
export type ScannedLine =
  | {
      kind: 'event'
      line: RawLine
      event: Record<string, unknown>
      /** The index the line carries (anything, if edited by hand). */
      storedIndex: unknown
      /** The index it should have: how many events come before it. */
      position: number
      /** Set when the stored index does not follow the one before it. */
      problem?: string
    }
  | { kind: 'blank'; line: RawLine }
  /** The file starts with a UTF-8 byte order mark, which some Windows editors add; line 1 follows, read without it. */
  | { kind: 'byte order mark'; line: RawLine }
  | { kind: 'invalid'; line: RawLine; problem: string }
  /** A last line without newline that is not a whole event: an append cut short by a crash. */
  | { kind: 'torn'; line: RawLine }

/** Reads a file line by line, in big chunks, any line length. */
export async function* readLines(filename: string): AsyncGenerator<RawLine> {
  const file = await open(filename, 'r')
  try {
    const chunk = Buffer.allocUnsafe(chunkBytes)
    // Pieces of a line that runs across chunks, copied because the chunk buffer is reused.
    let pieces: Buffer[] = []
    let lineStart = 0
    let number = 1
    for (let position = 0; ; ) {
      const { bytesRead } = await file.read(chunk, 0, chunkBytes, position)
      if (bytesRead === 0) break
      const bytes = chunk.subarray(0, bytesRead)
      let from = 0
      for (let at = bytes.indexOf(newline); at !== -1; at = bytes.indexOf(newline, from)) {
        const piece = bytes.subarray(from, at)
        const line = pieces.length === 0 ? Buffer.from(piece) : Buffer.concat([...pieces, piece])
        pieces = []
        yield { number: number++, start: lineStart, bytes: line, terminated: true }
        lineStart = position + at + 1
        from = at + 1
      }
      if (from < bytes.length) pieces.push(Buffer.from(bytes.subarray(from)))
      position += bytesRead
    }
    if (pieces.length > 0) yield { number, start: lineStart, bytes: Buffer.concat(pieces), terminated: false }
  } finally {
    await file.close()
  }
}

function isBlank(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return false
  return true
}

function describeJson(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}

function indexProblem(storedIndex: unknown, expected: number): string | undefined {
  if (storedIndex === expected) return undefined
  if (!Number.isInteger(storedIndex) || (storedIndex as number) < 0) {
    return `has no numeric "index" (${storedIndex === undefined ? 'none' : JSON.stringify(storedIndex)}) where ${expected} was expected`
  }
  return (storedIndex as number) < expected
    ? `has index ${storedIndex}, but the lines before it already reached ${expected - 1}: lines were duplicated or reordered`
    : `has index ${storedIndex} where ${expected} was expected: lines were removed or indices edited`
}

/**
 * Says what every line of a log file is. Index problems are reported once
 * where the numbering breaks: after a bad index, the next line is expected to
 * follow it, so one removed line is one problem, not one per later line.
 */
export async function* scanLog(filename: string): AsyncGenerator<ScannedLine> {
  let position = 0
  let expected = 0
  for await (const line of readLines(filename)) {
    if (line.number === 1 && line.bytes.subarray(0, 3).equals(byteOrderMark)) {
      yield { kind: 'byte order mark', line }
      line.bytes = line.bytes.subarray(3)
    }
    if (isBlank(line.bytes)) {
      yield { kind: 'blank', line }
      continue
    }
    let value: unknown
    let parseError: string | undefined
    if (!isUtf8(line.bytes)) parseError = 'is not valid UTF-8 text'
    else {
      try {
        value = JSON.parse(line.bytes.toString('utf8'))
      } catch (error) {
        parseError = `is not valid JSON (${(error as Error).message})`
      }
    }
    const isObject = parseError === undefined && typeof value === 'object' && value !== null && !Array.isArray(value)
    if (!line.terminated && !isObject) {
      yield { kind: 'torn', line }
      continue
    }
    if (!isObject) {
      yield { kind: 'invalid', line, problem: parseError ?? `is ${describeJson(value)}, not a JSON object` }
      continue
    }
    const event = value as Record<string, unknown>
    const storedIndex = event.index
    const problem = indexProblem(storedIndex, expected)
    yield problem === undefined ? { kind: 'event', line, event, storedIndex, position } : { kind: 'event', line, event, storedIndex, position, problem }
    position++
    expected = Number.isInteger(storedIndex) && (storedIndex as number) >= 0 ? (storedIndex as number) + 1 : expected + 1
  }
}

/** A problem found on one line. */
export interface LineProblem {
  line: number
  problem: string
}

/** What a whole scan found: what `check` reports and what `repair` acts on. */
export interface LogHealth {
  lines: number
  events: number
  blankLines: number
  /** Lines that are not events at all (not JSON, not UTF-8, not an object). */
  invalid: LineProblem[]
  /** Where the numbering breaks. */
  misnumbered: LineProblem[]
  /** How many events carry an index other than their position (what renumbering changes). */
  renumberCount: number
  /** The torn last line, if any. */
  torn: { line: number; bytes: number } | undefined
  /** The last event has no newline after it (harmless: the writer adds it). */
  lastEventUnterminated: boolean
  /** The file starts with a byte order mark, which the log cannot read. */
  byteOrderMark: boolean
  /** The file ends inside an atomic batch (`appendAll`) whose last events are missing: where it starts, and how many of its events are there. */
  tornBatch: { line: number; events: number } | undefined
}

/** Scans a whole log file and sums up its health. */
export async function inspectLog(filename: string): Promise<LogHealth> {
  const health: LogHealth = {
    lines: 0,
    events: 0,
    blankLines: 0,
    invalid: [],
    misnumbered: [],
    renumberCount: 0,
    torn: undefined,
    lastEventUnterminated: false,
    byteOrderMark: false,
    tornBatch: undefined,
  }
  // The atomic batch the events read last belong to, while its last line has not come yet.
  let openBatch: { line: number; events: number } | undefined
  for await (const scanned of scanLog(filename)) {
    health.lines = scanned.line.number
    switch (scanned.kind) {
      case 'blank':
        health.blankLines++
        break
      case 'byte order mark':
        health.byteOrderMark = true
        break
      case 'invalid':
        health.invalid.push({ line: scanned.line.number, problem: scanned.problem })
        break
      case 'torn':
        health.torn = { line: scanned.line.number, bytes: scanned.line.bytes.length }
        break
      case 'event':
        health.events++
        if (scanned.problem !== undefined) health.misnumbered.push({ line: scanned.line.number, problem: scanned.problem })
        if (scanned.storedIndex !== scanned.position) health.renumberCount++
        if (!scanned.line.terminated) health.lastEventUnterminated = true
        if (batchRemaining(scanned.event) === undefined) openBatch = undefined
        else {
          openBatch ??= { line: scanned.line.number, events: 0 }
          openBatch.events++
        }
        break
    }
  }
  health.tornBatch = openBatch
  return health
}

/** Every problem in line order, as `check` lists them. */
export function problemsOf(health: LogHealth): LineProblem[] {
  const problems = [...health.invalid, ...health.misnumbered]
  if (health.byteOrderMark) problems.push({ line: 1, problem: 'starts with a byte order mark (BOM), which JSON does not allow: an editor added it' })
  if (health.torn) {
    problems.push({
      line: health.torn.line,
      problem: `is an incomplete last line (${health.torn.bytes} bytes, no newline): an append cut short, most likely by a crash`,
    })
  }
  if (health.tornBatch) {
    problems.push({
      line: health.tornBatch.line,
      problem: `starts an atomic batch (appendAll) whose last events are missing (${health.tornBatch.events} of its events are here): a write cut short, most likely by a crash; the next writer to open the log sets the batch aside whole`,
    })
  }
  return problems.sort((a, b) => a.line - b.line)
}
