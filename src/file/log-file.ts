/**
 * Random access to an open NDJSON log file: reading byte ranges (tracked, so
 * closing waits for reads in flight), finding the last line, and errors that
 * name the line at fault by its number. What the storage, its recovery, its
 * offset search and its follower share.
 */
import { isUtf8 } from 'node:buffer'
import type { Stats } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { CorruptLogError, LogClosedError } from '../core/errors.js'
import { shellQuote } from './shell-quote.js'

export const newline = 0x0a
export const readChunkBytes = 64 * 1024
/** First read when looking at one line; most lines fit, longer ones are read in growing windows. */
export const probeBytes = 4 * 1024

/** The part of the file that is the log: bytes before `end`, events before `length`. Shared by the storage's parts, changed by the storage and its follower. */
export interface LogExtent {
  /** Byte offset just past the last complete, acknowledged line: readers never look beyond it. */
  end: number
  /** The number of events in the log (the index the next append gets). */
  length: number
}

/** A line of the file: where it starts, and its text without the newline. */
export interface Line {
  readonly start: number
  readonly text: string
}

/** What to do about misnumbered lines, with the command to run on this very file. */
export function repairRemedy(filename: string): string {
  return `Renumber it with \`npx tiny-event-sourcing repair ${shellQuote(filename)}\` (it keeps a backup), or fix the file by hand`
}

/** The message of a line that should be an event and is not. */
export const notAnEvent = 'is not a JSON event with a numeric "index"'
export const fixThatLine = 'Fix or remove that line; nothing was changed'

/** The line's JSON object, or `undefined` if it is not one. */
export function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown
    return isObject(value) ? value : undefined
  } catch {
    return undefined
  }
}

/** The `index` of the event on a line, or `undefined` if the line is not an event. */
export function parseIndex(text: string): number | undefined {
  return indexOf(parseObject(text))
}

/** The `index` of a parsed line, or `undefined` if it has none. */
export function indexOf(event: Record<string, unknown> | undefined): number | undefined {
  const index = event?.index
  return Number.isInteger(index) && (index as number) >= 0 ? (index as number) : undefined
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function isBlank(bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d && byte !== newline) return false
  return true
}

/** The file got shorter while it was being looked at (a writer set a torn end aside): the look is to be done again. */
export class FileShrankError extends Error {
  constructor(filename: string) {
    super(`${filename} got shorter while it was being read`)
  }
}

export class LogFile {
  readonly name: string
  #handle: FileHandle
  #closed = false
  #activeReads = 0
  #readsDone: (() => void) | undefined

  constructor(name: string, handle: FileHandle) {
    this.name = name
    this.#handle = handle
  }

  get fd(): number {
    return this.#handle.fd
  }

  stat(): Promise<Stats> {
    return this.#handle.stat()
  }

  truncate(size: number): Promise<void> {
    return this.#handle.truncate(size)
  }

  datasync(): Promise<void> {
    return this.#handle.datasync()
  }

  async readRange(start: number, end: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(end - start)
    return this.readInto(buffer, end - start, start)
  }

  /** Every read goes through here, so `close()` can wait for reads in flight before closing the file. */
  async readInto(buffer: Buffer, length: number, position: number): Promise<Buffer> {
    this.#activeReads++
    try {
      if (this.#closed) throw new LogClosedError(this.name) // the handle may be closing
      let filled = 0
      while (filled < length) {
        const { bytesRead } = await this.#handle.read(buffer, filled, length - filled, position + filled)
        if (bytesRead === 0) break
        filled += bytesRead
      }
      return buffer.subarray(0, filled)
    } finally {
      this.#activeReads--
      if (this.#activeReads === 0) this.#readsDone?.()
    }
  }

  /**
   * Reads backwards from `size` (not before `floor`) to find the last
   * non-blank line that ends with a newline, and where the unterminated
   * fragment after it starts.
   *
   * Throws `FileShrankError` if the file is shorter than `size` by now: a
   * follower looking at the file while a new writer sets a torn batch aside
   * must not take the bytes left for the end of the lines it was looking at.
   */
  async lastLine(floor: number, size: number): Promise<{ lastLine?: Line; fragmentStart: number }> {
    for (let window = probeBytes; ; window *= 4) {
      const start = Math.max(floor, size - window)
      const bytes = await this.readRange(start, size)
      if (bytes.length < size - start) throw new FileShrankError(this.name)
      const lastNewline = bytes.lastIndexOf(newline)
      if (lastNewline === -1) {
        if (start === floor) return { fragmentStart: floor }
        continue
      }
      const fragmentStart = start + lastNewline + 1
      let lineEnd = lastNewline
      for (;;) {
        const previousNewline = lineEnd === 0 ? -1 : bytes.lastIndexOf(newline, lineEnd - 1)
        if (previousNewline === -1 && start > floor) break // the line may begin before this window
        const line = bytes.subarray(previousNewline + 1, lineEnd)
        if (!isBlank(line)) return { lastLine: { start: start + previousNewline + 1, text: line.toString('utf8') }, fragmentStart }
        if (previousNewline === -1) return { fragmentStart }
        lineEnd = previousNewline
      }
    }
  }

  /** Line numbers are counted only when reporting an error, so normal reads never scan the whole file. */
  async lineNumberAt(offset: number): Promise<number> {
    let line = 1
    const buffer = Buffer.allocUnsafe(readChunkBytes)
    for (let position = 0; position < offset; position += readChunkBytes) {
      const chunk = await this.readInto(buffer, Math.min(readChunkBytes, offset - position), position)
      for (let at = chunk.indexOf(newline); at !== -1; at = chunk.indexOf(newline, at + 1)) line++
      if (chunk.length === 0) break
    }
    return line
  }

  async corruptAt(offset: number, problem: string, remedy: string): Promise<CorruptLogError> {
    const line = await this.lineNumberAt(offset)
    return new CorruptLogError(this.name, line, `line ${line} ${problem}`, remedy)
  }

  /** `corruptAt` for the line starting at `lineStart` in `text`, decoded from the bytes at `chunkOffset`. */
  async corruptInChunk(text: string, lineStart: number, chunkOffset: number, problem: string, remedy: string): Promise<CorruptLogError> {
    let line = await this.lineNumberAt(chunkOffset)
    for (let at = text.indexOf('\n'); at !== -1 && at < lineStart; at = text.indexOf('\n', at + 1)) line++
    return new CorruptLogError(this.name, line, `line ${line} ${problem}`, remedy)
  }

  async invalidUtf8In(chunk: Buffer, chunkOffset: number): Promise<CorruptLogError> {
    let lineStart = 0
    while (lineStart < chunk.length) {
      const lineEnd = chunk.indexOf(newline, lineStart)
      if (!isUtf8(chunk.subarray(lineStart, lineEnd))) break
      lineStart = lineEnd + 1
    }
    return this.corruptAt(chunkOffset + lineStart, 'is not valid UTF-8 text', fixThatLine)
  }

  /** Waits for the reads in flight, then closes the file; later reads fail with `LogClosedError`. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#activeReads > 0) await new Promise<void>((resolve) => (this.#readsDone = resolve))
    await this.#handle.close()
  }
}
