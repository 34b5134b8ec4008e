import { isUtf8 } from 'node:buffer'
import { fstatSync, watch, writeSync, type FSWatcher } from 'node:fs'
import { open, stat, type FileHandle } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { createFolderFor, explainedError, folderError, readDeniedError } from './folder.js'
import { AppendConflictError, CorruptLogError, FileAccessError, LogClosedError, LogReplacedError, TinyEventSourcingError, usageError } from '../core/errors.js'
import { withIndex } from '../core/serialize.js'
import { shellQuote } from './shell-quote.js'
import { acquireFileLock } from './lock.js'
import type { Indexed, LogStorage, StorageAppendOptions, StorageOpenOptions } from '../core/log-storage.js'

/** Options of `fileStorage`. */
export interface FileStorageOptions {
  /** Flush each batch to disk (`fdatasync`) before its appends resolve. Default `false`. */
  fsync?: boolean
}

type StoredEvent = Indexed<Record<string, unknown>>

const newline = 0x0a
const readChunkBytes = 64 * 1024
/** Below this many bytes a binary search for an index gives way to a plain scan. */
const scanBytes = 64 * 1024
/** First read when looking at one line; most lines fit, longer ones are read in growing windows. */
const probeBytes = 4 * 1024
/** How many index → byte offset pairs are remembered to start reads without searching. */
const offsetCacheSize = 1024
/** Followers re-check the file this often in case a change notification was missed. */
const followSafetyPollMs = 1000

/** What to do about misnumbered lines, with the command to run on this very file. */
function repairRemedy(filename: string): string {
  return `Renumber it with \`npx tiny-event-sourcing repair ${shellQuote(filename)}\` (it keeps a backup), or fix the file by hand`
}

/**
 * The NDJSON file storage behind `initLog({ filename })`: one event a line,
 * `JSON.stringify({ ...event, index })`. A writer holds `<file>.lock`; a torn
 * last line left by a crash is moved to `<file>.torn-<time>` on open.
 */
export function fileStorage(filename: string, options: FileStorageOptions = {}): LogStorage {
  return new FileStorage(resolve(filename), options.fsync ?? false)
}

function parseIndex(text: string): number | undefined {
  try {
    const value = JSON.parse(text) as unknown
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
    const index = (value as { index?: unknown }).index
    return Number.isInteger(index) && (index as number) >= 0 ? (index as number) : undefined
  } catch {
    return undefined
  }
}

/** Makes a new file's directory entry durable too, where the platform allows it. */
async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined
  try {
    handle = await open(directory, 'r')
    await handle.datasync()
  } catch {
    // Not supported here (Windows): the file's own flushes are all we can do.
  } finally {
    await handle?.close()
  }
}

/** `stat()` of a path that may have been deleted: `undefined` if it was. */
function missingAsUndefined(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
  throw error
}

/** A line of JSON whitespace only (what editors leave behind); skipped. */
const blankLine = /^[ \t\r]*$/

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isBlank(bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d && byte !== newline) return false
  return true
}

class FileStorage implements LogStorage {
  readonly name: string
  #fsync: boolean
  /** Set by `open({ readOnly })`: follow a file another process writes, with no lock and no changes to the file. */
  #readOnly = false
  #file: FileHandle | undefined
  #releaseLock: (() => Promise<void>) | undefined
  /** Byte offset just past the last complete, acknowledged line: readers never look beyond it. */
  #end = 0
  #length = 0
  #offsets = new Map<number, number>()
  #closed = false
  /** Set when a failed write could not be undone: the file's tail is unknown, so nothing more is written. */
  #broken: unknown
  #activeReads = 0
  #readsDone: (() => void) | undefined
  #followers = new Set<{ onAppend: (length: number) => void; onFailure: ((error: Error) => void) | undefined }>()
  /** Set when a follower's file was replaced or truncated: what it reads is no longer the log. */
  #failure: LogReplacedError | undefined
  #watcher: FSWatcher | undefined
  #safetyPoll: ReturnType<typeof setInterval> | undefined
  #refreshing: Promise<void> | undefined
  #refreshAgain = false

  constructor(filename: string, fsync: boolean) {
    this.name = filename
    this.#fsync = fsync
  }

  async open(options?: StorageOpenOptions): Promise<number> {
    this.#readOnly = options?.readOnly ?? false
    if (this.#readOnly) {
      try {
        this.#file = await open(this.name, 'r')
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'EISDIR') throw this.#folderGivenError(error) // where a folder cannot be opened at all (Windows)
        if (code === 'ENOTDIR') throw folderError('follow', this.name, error) // Node's message does not say which part is a file
        if (code === 'EACCES' || code === 'EPERM') throw readDeniedError('follow', this.name, error)
        if (code !== 'ENOENT') throw error
        throw new TinyEventSourcingError('LOG_NOT_FOUND', `cannot follow ${this.name}: the file does not exist; start the process that writes it first`, {
          cause: error,
        })
      }
    } else {
      await createFolderFor(this.name)
      try {
        this.#releaseLock = await acquireFileLock(`${this.name}.lock`, this.name)
      } catch (error) {
        throw this.#lockError(error)
      }
      try {
        this.#file = await open(this.name, 'a+')
      } catch (error) {
        await this.#releaseLock()
        throw this.#openError(error)
      }
    }
    try {
      await this.#recover()
      if (this.#fsync && !this.#readOnly && this.#end === 0) await syncDirectory(dirname(this.name))
    } catch (error) {
      await this.close()
      throw error
    }
    return this.#length
  }

  /** Node's message for a failed open names the path at best; this one also says what is wrong and what to do. */
  #openError(error: unknown): unknown {
    const { code, message } = error as NodeJS.ErrnoException
    if (code === 'EISDIR') return this.#folderGivenError(error)
    const problem =
      code === 'EACCES' || code === 'EPERM'
        ? 'permission denied; choose another filename, or give this user write access to it'
        : code === 'EROFS'
          ? `${message}; open it with { readOnly: true } to follow it, or choose another filename`
          : undefined
    if (problem === undefined) return error // e.g. EMFILE: Node's message says it all, and no advice about the file fits
    return explainedError(`cannot open ${this.name} for writing: ${problem}`, error)
  }

  /**
   * The lock file is created first, so a folder this user cannot write to fails
   * there, and Node's message names only the lock's draft: this one names the
   * log and the folder to give access to. Other failures (a lock held, or one
   * this user may not read, already explained) pass.
   */
  #lockError(error: unknown): unknown {
    const { code, syscall } = error as NodeJS.ErrnoException
    if (syscall === undefined) return error // not a raw system error
    if (code === 'EACCES' || code === 'EPERM') return folderError('create the lock file for', this.name, error)
    if (code === 'EROFS') return this.#openError(error)
    return error
  }

  #folderGivenError(cause?: unknown): Error {
    const message = `cannot open ${this.name}: it is a folder, not a file; give initLog() the path of a log file, e.g. ${join(this.name, 'log.ndjson')}`
    return new FileAccessError(message, cause, 'EISDIR')
  }

  /** Finds the last event and deals with a torn last line, so that appends continue the file cleanly. */
  async #recover(): Promise<void> {
    const stats = await this.#handle().stat()
    // Opening a folder to read succeeds here; only the first read fails, with a message that names no path.
    if (stats.isDirectory()) throw this.#folderGivenError()
    const size = stats.size
    const { lastLine, fragmentStart } = await this.#findLastLine(0, size)
    if (lastLine) {
      const index = parseIndex(lastLine.text)
      if (index === undefined) {
        throw await this.#corruptAt(
          lastLine.start,
          'is the last line and not a JSON event with a numeric "index"',
          'Fix or remove that line; nothing was changed',
        )
      }
      await this.#checkLineBefore(lastLine.start, index)
      this.#length = index + 1
    }
    this.#end = fragmentStart
    if (fragmentStart === size) return
    const fragment = await this.#readRange(fragmentStart, size)
    if (isBlank(fragment)) {
      if (!this.#readOnly) await this.#handle().truncate(fragmentStart)
      return
    }
    if (parseIndex(fragment.toString('utf8')) === this.#length) {
      // A complete event that only lacks its newline (an editor dropped it, or the crash came just before it).
      if (this.#readOnly) return
      this.#writeAll(Buffer.from('\n'))
      this.#end = size + 1
      this.#length++
      return
    }
    // In a follower the fragment is a line the writer is still writing.
    if (!this.#readOnly) await this.#setAsideTornTail(fragment, fragmentStart)
  }

  /**
   * The next append takes the last line's index + 1, so that index must be
   * the highest: checking the line before it catches the usual hand edits at
   * the end (a line pasted or moved there) without reading the whole file.
   */
  async #checkLineBefore(lastLineStart: number, lastIndex: number): Promise<void> {
    const { lastLine: previous } = await this.#findLastLine(0, lastLineStart)
    const previousIndex = previous ? parseIndex(previous.text) : -1
    if (previous && previousIndex === undefined) {
      throw await this.#corruptAt(previous.start, 'is not a JSON event with a numeric "index"', 'Fix or remove that line; nothing was changed')
    }
    if (previousIndex === lastIndex - 1) return
    const problem = previous
      ? `has index ${lastIndex}, but the line before it has index ${previousIndex}: lines were removed, duplicated, moved or renumbered by hand`
      : `has index ${lastIndex}, but it is the first event, which must have index 0: lines were removed or renumbered by hand`
    throw await this.#corruptAt(lastLineStart, problem, `${repairRemedy(this.name)}; nothing was changed`)
  }

  async #setAsideTornTail(fragment: Buffer, fragmentStart: number): Promise<void> {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    const aside = `${this.name}.torn-${stamp}`
    const asideFile = await open(aside, 'wx')
    try {
      await asideFile.writeFile(fragment)
      await asideFile.datasync()
    } finally {
      await asideFile.close()
    }
    await this.#handle().truncate(fragmentStart)
    await this.#handle().datasync()
    process.emitWarning(
      `${this.name} ended with an incomplete line (${fragment.length} bytes), most likely from a crash during an append. ` +
        `It was moved to ${aside} and the log continues after event ${this.#length - 1}.`,
      { code: 'TINY_EVENT_SOURCING_TORN_TAIL' },
    )
  }

  /**
   * Reads backwards from `size` (not before `floor`) to find the last
   * non-blank line that ends with a newline, and where the unterminated
   * fragment after it starts.
   */
  async #findLastLine(floor: number, size: number): Promise<{ lastLine?: { start: number; text: string }; fragmentStart: number }> {
    for (let window = probeBytes; ; window *= 4) {
      const start = Math.max(floor, size - window)
      const bytes = await this.#readRange(start, size)
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

  async append(records: readonly string[], options?: StorageAppendOptions): Promise<number> {
    if (this.#closed) throw new LogClosedError(this.name)
    if (this.#readOnly) throw usageError(`${this.name} is open read-only`)
    if (this.#broken !== undefined) {
      throw new TinyEventSourcingError('LOG_WRITE_FAILED', `an earlier write to ${this.name} failed and could not be undone; close the log and open it again`, {
        cause: this.#broken,
      })
    }
    const expected = options?.expectedLastIndex
    if (expected !== undefined && expected !== this.#length - 1) {
      throw new AppendConflictError(this.name, expected, this.#length - 1)
    }
    // One fstat a batch: if anything else wrote to the file (an editor, a script,
    // a writer that ignored the lock), our next index may already be taken.
    // Synchronous, like the write: a thread-pool round trip would cost more than the call.
    const size = fstatSync(this.#handle().fd).size
    if (size !== this.#end) throw this.#changedError(size, '; nothing was appended')
    let text = ''
    for (let i = 0; i < records.length; i++) text += `${withIndex(records[i]!, this.#length + i)}\n`
    const bytes = Buffer.from(text)
    try {
      this.#writeAll(bytes)
      if (this.#fsync) await this.#handle().datasync()
    } catch (error) {
      // Leave no partial line behind: the next append must start on a clean line.
      await this.#handle()
        .truncate(this.#end)
        .catch((truncateError: unknown) => {
          this.#broken = truncateError
        })
      throw error
    }
    const first = this.#length
    this.#end += bytes.length
    this.#length += records.length
    this.#rememberOffset(this.#length, this.#end)
    return first
  }

  /** Another program changed the file under a writer: its view of the file is stale, so it stops rather than guess. */
  #changedError(size: number, consequence: string): Error {
    return new TinyEventSourcingError(
      'LOG_CHANGED',
      `${this.name} was changed by another program while this log had it open ` +
        `(${size} bytes where this log wrote ${this.#end})${consequence}. Stop the other writer, check the file, and open the log again`,
    )
  }

  /**
   * Writes synchronously: appending to the page cache takes microseconds,
   * less than a round trip through libuv's thread pool, and nothing else can
   * interleave with the batch. Durability (`fsync`) stays asynchronous.
   */
  #writeAll(bytes: Buffer): void {
    const fd = this.#handle().fd
    let written = 0
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written)
  }

  async *read(from: number): AsyncGenerator<StoredEvent[]> {
    try {
      yield* this.#readFrom(from)
    } catch (error) {
      // close() won the race with a read in progress: the read just ends.
      if (this.#closed && error instanceof LogClosedError) return
      throw error
    }
  }

  async *#readFrom(from: number): AsyncGenerator<StoredEvent[]> {
    if (from >= this.#length || this.#closed) return
    let offset = await this.#offsetOf(from)
    let expected = from
    let buffer = Buffer.allocUnsafe(readChunkBytes)
    // The read of the chunk at `offset`, started while the previous one was parsed and delivered.
    let readAhead: Promise<Buffer> | undefined
    while (offset < this.#end && !this.#closed) {
      const chunk = await (readAhead ?? this.#readInto(buffer, Math.min(buffer.length, this.#end - offset), offset))
      readAhead = undefined
      const lastNewline = chunk.lastIndexOf(newline)
      if (lastNewline === -1) {
        // Short of the newline that ends every line before #end: the file shrank under the read.
        if (chunk.length < buffer.length) throw await this.#shrankError()
        buffer = Buffer.allocUnsafe(buffer.length * 2) // a line longer than the buffer
        continue
      }
      const complete = chunk.subarray(0, lastNewline + 1)
      if (!isUtf8(complete)) throw await this.#invalidUtf8In(complete, offset)
      const text = complete.toString('utf8')
      // The buffer is free once decoded: read the next chunk into it while
      // this one is parsed and delivered, as a read stream does, so the
      // thread pool's round trip is not waited for between chunks.
      const nextOffset = offset + lastNewline + 1
      if (nextOffset < this.#end) {
        readAhead = this.#readInto(buffer, Math.min(buffer.length, this.#end - nextOffset), nextOffset)
        readAhead.catch(() => {}) // seen when awaited; a reader that stops early does not wait for it
      }
      const batch: StoredEvent[] = []
      for (let lineStart = 0, lineEnd = text.indexOf('\n'); lineEnd !== -1; lineStart = lineEnd + 1, lineEnd = text.indexOf('\n', lineStart)) {
        const line = text.slice(lineStart, lineEnd)
        let event: unknown
        try {
          event = JSON.parse(line)
        } catch {
          // Checked only here: a blank line is never valid JSON, and testing every line costs.
          if (blankLine.test(line)) continue
          throw await this.#corruptInChunk(text, lineStart, offset, 'is not valid JSON', 'Fix or remove that line; nothing was changed')
        }
        if (!isObject(event) || event.index !== expected) {
          throw await this.#corruptInChunk(text, lineStart, offset, this.#indexProblem(event, expected), repairRemedy(this.name))
        }
        batch.push(event as StoredEvent)
        expected++
      }
      offset = nextOffset
      this.#rememberOffset(expected, offset)
      if (batch.length > 0) yield batch
    }
  }

  #indexProblem(event: unknown, expected: number): string {
    if (typeof event !== 'object' || event === null || Array.isArray(event)) return 'is not a JSON object'
    const index = (event as { index?: unknown }).index
    if (!Number.isInteger(index)) return `has no numeric "index" (expected ${expected})`
    return (index as number) < expected
      ? `has index ${index}, but the lines before it already reached ${expected - 1}: lines were duplicated or reordered`
      : `has index ${index} where ${expected} was expected: lines were removed or indices edited`
  }

  /** Finds where the line of event `index` starts: from the offset cache, else by binary search on the indices in the file. */
  async #offsetOf(index: number): Promise<number> {
    if (index === 0) return 0
    if (index === this.#length) return this.#end
    const cached = this.#offsets.get(index)
    if (cached !== undefined) return cached
    let low = 0
    let lowIndex = 0
    let high = this.#end
    let highIndex = this.#length
    for (const [knownIndex, knownOffset] of this.#offsets) {
      if (knownIndex <= index && knownIndex > lowIndex) {
        low = knownOffset
        lowIndex = knownIndex
      }
      if (knownIndex > index && knownIndex < highIndex) {
        high = knownOffset
        highIndex = knownIndex
      }
    }
    // Lines tend to be of similar length, so where the index falls between
    // the known ends is a good guess at its offset, and one or two probes
    // usually land on it. A guess that does not halve the range is followed by
    // a plain halving, which keeps the worst case logarithmic.
    let halve = false
    while (high - low > scanBytes) {
      const range = high - low
      // Indices out of order (a hand-edited file) leave no sensible guess: halve; the scan reports the fault.
      if (!(highIndex > lowIndex)) halve = true
      const guess = halve
        ? low + Math.floor(range / 2)
        : Math.min(high - 1, Math.max(low, low + Math.floor(((index - lowIndex - 0.5) / (highIndex - lowIndex)) * range)))
      const probe = await this.#lineAfter(guess, high)
      if (probe === undefined) {
        // The last line before `high` spans the guess: its index is unknown, so only halving is left.
        high = guess
        highIndex = Number.NaN
        halve = true
        continue
      }
      if (probe.index === index) return this.#rememberOffset(index, probe.start)
      if (probe.index < index) {
        low = probe.start
        lowIndex = probe.index
      } else {
        high = probe.start
        highIndex = probe.index
      }
      halve = Number.isNaN(highIndex) || high - low > range / 2
    }
    return this.#scanFor(index, low)
  }

  /**
   * Reads lines in order from `from` (a line start at or before the line of
   * event `index`) until that line; the first line past `index` means it is
   * missing, and names the line at fault.
   */
  async #scanFor(index: number, from: number): Promise<number> {
    let position = from
    let window = scanBytes
    while (position < this.#end) {
      const bytes = await this.#readRange(position, Math.min(this.#end, position + window))
      let lineStart = 0
      for (let lineEnd = bytes.indexOf(newline); lineEnd !== -1; lineEnd = bytes.indexOf(newline, lineStart)) {
        const line = bytes.subarray(lineStart, lineEnd)
        const start = position + lineStart
        lineStart = lineEnd + 1
        if (isBlank(line)) continue
        const found = parseIndex(line.toString('utf8'))
        if (found === undefined)
          throw await this.#corruptAt(start, 'is not a JSON event with a numeric "index"', 'Fix or remove that line; nothing was changed')
        if (found === index) return this.#rememberOffset(index, start)
        if (found > index) {
          throw await this.#corruptAt(
            start,
            `has index ${found}, but no line before it has index ${index}: lines were removed, moved or renumbered by hand`,
            `${repairRemedy(this.name)}; nothing was changed`,
          )
        }
      }
      if (lineStart === 0) {
        if (position + window >= this.#end) break // the file changed under us
        window *= 4 // a line longer than the window
      }
      position += lineStart
    }
    throw await this.#corruptAt(
      from,
      `starts the part of the file where the line with index ${index} should be, but it is not there: lines were moved or renumbered by hand`,
      `${repairRemedy(this.name)}; nothing was changed`,
    )
  }

  /** The first non-blank line starting after the newline that follows `offset`, and before `before`. */
  async #lineAfter(offset: number, before: number): Promise<{ start: number; index: number } | undefined> {
    let window = probeBytes
    for (;;) {
      const end = Math.min(before, offset + window)
      const bytes = await this.#readRange(offset, end)
      const newlineAt = bytes.indexOf(newline)
      if (newlineAt === -1) {
        if (end >= before) return undefined
        window *= 4
        continue
      }
      // Usually the line wanted is whole in what was just read: no second read.
      const lineEnd = bytes.indexOf(newline, newlineAt + 1)
      const start = offset + newlineAt + 1
      if (lineEnd !== -1 && start < before) {
        const line = bytes.subarray(newlineAt + 1, lineEnd)
        if (!isBlank(line)) {
          const index = parseIndex(line.toString('utf8'))
          if (index === undefined)
            throw await this.#corruptAt(start, 'is not a JSON event with a numeric "index"', 'Fix or remove that line; nothing was changed')
          return { start, index }
        }
      }
      return this.#lineAt(start, before)
    }
  }

  /** The first non-blank line starting at or after `start` (a line start) and before `before`, read whole, with its index. */
  async #lineAt(start: number, before: number): Promise<{ start: number; index: number } | undefined> {
    let lineStart = start
    let window = probeBytes
    while (lineStart < before) {
      const bytes = await this.#readRange(lineStart, Math.min(this.#end, lineStart + window))
      const lineEnd = bytes.indexOf(newline)
      if (lineEnd === -1) {
        if (lineStart + window >= this.#end) return undefined // the file changed under us
        window *= 4 // a line longer than the window: read it whole
        continue
      }
      const line = bytes.subarray(0, lineEnd)
      if (!isBlank(line)) {
        const index = parseIndex(line.toString('utf8'))
        if (index === undefined)
          throw await this.#corruptAt(lineStart, 'is not a JSON event with a numeric "index"', 'Fix or remove that line; nothing was changed')
        return { start: lineStart, index }
      }
      lineStart += lineEnd + 1
    }
    return undefined
  }

  #rememberOffset(index: number, offset: number): number {
    this.#offsets.delete(index)
    this.#offsets.set(index, offset)
    if (this.#offsets.size > offsetCacheSize) this.#offsets.delete(this.#offsets.keys().next().value!)
    return offset
  }

  async #readRange(start: number, end: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(end - start)
    return this.#readInto(buffer, end - start, start)
  }

  /** Every read goes through here, so `close()` can wait for reads in flight before closing the file. */
  async #readInto(buffer: Buffer, length: number, position: number): Promise<Buffer> {
    this.#activeReads++
    try {
      if (this.#closed) throw new LogClosedError(this.name) // the handle may be closing
      let filled = 0
      while (filled < length) {
        const { bytesRead } = await this.#handle().read(buffer, filled, length - filled, position + filled)
        if (bytesRead === 0) break
        filled += bytesRead
      }
      return buffer.subarray(0, filled)
    } finally {
      this.#activeReads--
      if (this.#activeReads === 0) this.#readsDone?.()
    }
  }

  #handle(): FileHandle {
    if (this.#file === undefined) throw new LogClosedError(this.name)
    return this.#file
  }

  /** Line numbers are counted only when reporting an error, so normal reads never scan the whole file. */
  async #lineNumberAt(offset: number): Promise<number> {
    let line = 1
    const buffer = Buffer.allocUnsafe(readChunkBytes)
    for (let position = 0; position < offset; position += readChunkBytes) {
      const chunk = await this.#readInto(buffer, Math.min(readChunkBytes, offset - position), position)
      for (let at = chunk.indexOf(newline); at !== -1; at = chunk.indexOf(newline, at + 1)) line++
      if (chunk.length === 0) break
    }
    return line
  }

  async #corruptAt(offset: number, problem: string, remedy: string): Promise<CorruptLogError> {
    const line = await this.#lineNumberAt(offset)
    return new CorruptLogError(this.name, line, `line ${line} ${problem}`, remedy)
  }

  async #corruptInChunk(text: string, lineStart: number, chunkOffset: number, problem: string, remedy: string): Promise<CorruptLogError> {
    let line = await this.#lineNumberAt(chunkOffset)
    for (let at = text.indexOf('\n'); at !== -1 && at < lineStart; at = text.indexOf('\n', at + 1)) line++
    return new CorruptLogError(this.name, line, `line ${line} ${problem}`, remedy)
  }

  async #invalidUtf8In(chunk: Buffer, chunkOffset: number): Promise<CorruptLogError> {
    let lineStart = 0
    while (lineStart < chunk.length) {
      const lineEnd = chunk.indexOf(newline, lineStart)
      if (!isUtf8(chunk.subarray(lineStart, lineEnd))) break
      lineStart = lineEnd + 1
    }
    return this.#corruptAt(chunkOffset + lineStart, 'is not valid UTF-8 text', 'Fix or remove that line; nothing was changed')
  }

  watch(onAppend: (length: number) => void, onFailure?: (error: Error) => void): () => void {
    // Only a follower can see appends it did not make; a writer holds the lock.
    if (!this.#readOnly || this.#closed) return () => {}
    const failure = this.#failure
    if (failure) {
      queueMicrotask(() => onFailure?.(failure))
      return () => {}
    }
    const follower = { onAppend, onFailure }
    this.#followers.add(follower)
    if (this.#watcher === undefined) {
      this.#watcher = watch(this.name, { persistent: false }, () => void this.#refresh())
      this.#watcher.on('error', () => {}) // the safety poll carries on alone
      // Not unref'd: a process that follows a log is waiting for another
      // process's events, and must not exit while it does; close() stops it.
      this.#safetyPoll = setInterval(() => void this.#refresh(), followSafetyPollMs)
    }
    return () => {
      this.#followers.delete(follower)
      if (this.#followers.size === 0) this.#stopFollowing()
    }
  }

  /**
   * Records that the file being followed is no longer the log (replaced,
   * deleted or truncated by another program), stops following it and tells
   * the watchers, once. Returns the error to throw.
   */
  #fail(happened: string): LogReplacedError {
    if (this.#failure) return this.#failure
    const failure = new LogReplacedError(this.name, happened, this.#length)
    this.#failure = failure
    this.#stopFollowing()
    for (const { onFailure } of this.#followers) onFailure?.(failure)
    return failure
  }

  /** The error for a read that found less than the lines already counted up to #end. */
  async #shrankError(): Promise<Error> {
    const size = (await this.#handle().stat()).size
    if (!this.#readOnly) return this.#changedError(size, '')
    return this.#failTruncated(size)
  }

  /** A follower's file now `size` bytes was cut below what was read, or cut and written past it again. */
  #failTruncated(size: number): LogReplacedError {
    return this.#fail(size < this.#end ? `was truncated from ${this.#end} to ${size} bytes` : 'was truncated and written again')
  }

  #stopFollowing(): void {
    this.#watcher?.close()
    this.#watcher = undefined
    clearInterval(this.#safetyPoll)
    this.#safetyPoll = undefined
  }

  /**
   * Notices lines the writer has completed since the last look, or that the
   * path now names another file, or that the file shrank (then fails);
   * coalesces overlapping calls into one more pass.
   */
  #refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#refreshAgain = true
      return this.#refreshing
    }
    this.#refreshing = (async () => {
      try {
        do {
          this.#refreshAgain = false
          if (this.#closed || this.#failure) return
          // The open file, and what its path names now: a writer that replaced
          // the file (`repair`, or delete and start afresh) appends to another one.
          const [file, path] = await Promise.all([this.#handle().stat(), stat(this.name).catch(missingAsUndefined)])
          if (path === undefined) return void this.#fail('was deleted')
          if (path.ino !== file.ino || path.dev !== file.dev)
            return void this.#fail('was replaced by another file (renamed over, or deleted and created again)')
          const size = file.size
          if (size < this.#end) return void this.#failTruncated(size)
          if (size === this.#end) continue
          const { lastLine, fragmentStart } = await this.#findLastLine(this.#end, size)
          const index = lastLine ? parseIndex(lastLine.text) : undefined
          if (index === undefined) continue
          // Lines past what was read whose index goes back: the file was cut and written again.
          if (index < this.#length) return void this.#failTruncated(size)
          this.#end = fragmentStart
          this.#length = index + 1
          this.#rememberOffset(this.#length, this.#end)
          for (const { onAppend } of this.#followers) onAppend(this.#length)
        } while (this.#refreshAgain)
      } catch {
        // A failed look is retried on the next notification or safety poll.
      } finally {
        this.#refreshing = undefined
      }
    })()
    return this.#refreshing
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#stopFollowing()
    this.#followers.clear()
    if (this.#activeReads > 0) await new Promise<void>((resolve) => (this.#readsDone = resolve))
    const file = this.#file
    this.#file = undefined
    try {
      await file?.close()
    } finally {
      await this.#releaseLock?.()
    }
  }
}
