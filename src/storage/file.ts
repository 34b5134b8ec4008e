import { isUtf8 } from 'node:buffer'
import { watch, writeSync, type FSWatcher } from 'node:fs'
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { AppendConflictError, CorruptLogError, LogClosedError } from '../errors.js'
import { withIndex } from '../serialize.js'
import { acquireFileLock } from './file-lock.js'
import type { Indexed, LogStorage, StorageAppendOptions } from './types.js'

/** Options of `fileStorage`. */
export interface FileStorageOptions {
  /** Flush each batch to disk (`fdatasync`) before its appends resolve. Default `false`. */
  fsync?: boolean
  /** Follow a file another process writes: no lock, no changes to the file, appends refused. Default `false`. */
  readOnly?: boolean
}

type StoredEvent = Indexed<Record<string, unknown>>

const newline = 0x0a
const readChunkBytes = 64 * 1024
/** Below this many bytes a binary search for an index gives way to a plain scan. */
const scanBytes = 64 * 1024
/** First read of a binary-search probe; grown when a line is longer. */
const probeBytes = 4 * 1024
/** How many index → byte offset pairs are remembered to start reads without searching. */
const offsetCacheSize = 1024
/** Followers re-check the file this often in case a change notification was missed. */
const followSafetyPollMs = 1000

const repairRemedy = 'Renumber it with `npx tiny-event-sourcing repair <file>` (it keeps a backup), or fix the file by hand'

/**
 * The NDJSON file storage behind `initLog({ filename })`: one event a line,
 * `JSON.stringify({ ...event, index })`. A writer holds `<file>.lock`; a torn
 * last line left by a crash is moved to `<file>.torn-<time>` on open.
 */
export function fileStorage(filename: string, options: FileStorageOptions = {}): LogStorage {
  return new FileStorage(resolve(filename), options.fsync ?? false, options.readOnly ?? false)
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

function isBlank(bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d && byte !== newline) return false
  return true
}

class FileStorage implements LogStorage {
  readonly name: string
  #fsync: boolean
  #readOnly: boolean
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
  #followers = new Set<(length: number) => void>()
  #watcher: FSWatcher | undefined
  #safetyPoll: ReturnType<typeof setInterval> | undefined
  #refreshing: Promise<void> | undefined
  #refreshAgain = false

  constructor(filename: string, fsync: boolean, readOnly: boolean) {
    this.name = filename
    this.#fsync = fsync
    this.#readOnly = readOnly
  }

  async open(): Promise<number> {
    if (this.#readOnly) {
      try {
        this.#file = await open(this.name, 'r')
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
        throw new Error(`tiny-event-sourcing: cannot follow ${this.name}: the file does not exist; start the process that writes it first`, { cause: error })
      }
    } else {
      await mkdir(dirname(this.name), { recursive: true })
      this.#releaseLock = await acquireFileLock(`${this.name}.lock`, this.name)
      try {
        this.#file = await open(this.name, 'a+')
      } catch (error) {
        await this.#releaseLock()
        throw error
      }
    }
    try {
      await this.#recover()
    } catch (error) {
      await this.close()
      throw error
    }
    return this.#length
  }

  /** Finds the last event and deals with a torn last line, so that appends continue the file cleanly. */
  async #recover(): Promise<void> {
    const size = (await this.#handle().stat()).size
    const { lastLine, fragmentStart } = await this.#findLastLine(0, size)
    if (lastLine) {
      const index = parseIndex(lastLine.text)
      if (index === undefined) {
        throw await this.#corruptAt(lastLine.start, 'the last line is not a JSON event with a numeric "index"', 'Fix or remove that line; nothing was changed')
      }
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
    for (let window = scanBytes; ; window *= 4) {
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
    if (this.#readOnly) throw new TypeError(`tiny-event-sourcing: ${this.name} is open read-only`)
    if (this.#broken !== undefined) {
      throw new Error(`tiny-event-sourcing: an earlier write to ${this.name} failed and could not be undone; close the log and open it again`, { cause: this.#broken })
    }
    const expected = options?.expectedLastIndex
    if (expected !== undefined && expected !== this.#length - 1) {
      throw new AppendConflictError(this.name, expected, this.#length - 1)
    }
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
    if (from >= this.#length || this.#closed) return
    let offset = await this.#offsetOf(from)
    let expected = from
    let buffer = Buffer.allocUnsafe(readChunkBytes)
    while (offset < this.#end && !this.#closed) {
      const size = Math.min(buffer.length, this.#end - offset)
      const chunk = await this.#readInto(buffer, size, offset)
      const lastNewline = chunk.lastIndexOf(newline)
      if (lastNewline === -1) {
        buffer = Buffer.allocUnsafe(buffer.length * 2) // a line longer than the buffer
        continue
      }
      const complete = chunk.subarray(0, lastNewline + 1)
      if (!isUtf8(complete)) throw await this.#invalidUtf8In(complete, offset)
      const text = complete.toString('utf8')
      const batch: StoredEvent[] = []
      let lineStart = 0
      while (lineStart < text.length) {
        const lineEnd = text.indexOf('\n', lineStart)
        const line = text.slice(lineStart, lineEnd)
        let event: StoredEvent | undefined
        try {
          event = JSON.parse(line) as StoredEvent
        } catch {
          if (line.trim() !== '') throw await this.#corruptInChunk(text, lineStart, offset, 'is not valid JSON', 'Fix or remove that line; nothing was changed')
        }
        if (event !== undefined && event.index !== expected) {
          throw await this.#corruptInChunk(text, lineStart, offset, this.#indexProblem(event, expected), repairRemedy)
        }
        if (event !== undefined) {
          batch.push(event)
          expected++
        }
        lineStart = lineEnd + 1
      }
      offset += lastNewline + 1
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
    while (high - low > scanBytes) {
      const middle = low + Math.floor((high - low) / 2)
      const probe = await this.#lineAfter(middle, high)
      // No line starts between the middle and `high`: one long line spans the middle, so scan what is left.
      if (probe === undefined) break
      if (probe.index === index) return this.#rememberOffset(index, probe.start)
      if (probe.index < index) low = probe.start
      else high = probe.start
    }
    const found = await this.#scanFor(index, low, high)
    if (found !== undefined) return this.#rememberOffset(index, found)
    throw new CorruptLogError(this.name, undefined, `there is no line with index ${index} where the indices around it say it should be: the indices are not in order`, repairRemedy)
  }

  /** Reads the lines from `low` (a line start) to `high` in one go and finds where the line of event `index` starts. */
  async #scanFor(index: number, low: number, high: number): Promise<number | undefined> {
    const bytes = await this.#readRange(low, high)
    for (let lineStart = 0; lineStart < bytes.length; ) {
      let lineEnd = bytes.indexOf(newline, lineStart)
      if (lineEnd === -1) lineEnd = bytes.length
      const line = bytes.subarray(lineStart, lineEnd)
      if (!isBlank(line)) {
        const found = parseIndex(line.toString('utf8'))
        if (found === undefined) throw await this.#corruptAt(low + lineStart, 'is not a JSON event with a numeric "index"', 'Fix or remove that line; nothing was changed')
        if (found === index) return low + lineStart
        if (found > index) return undefined
      }
      lineStart = lineEnd + 1
    }
    return undefined
  }

  /** The first non-blank line that starts after `offset` (after the next newline) and before `limit`. */
  async #lineAfter(offset: number, limit: number): Promise<{ start: number; index: number } | undefined> {
    // Events are usually far shorter than a probe, so one small read tends to hold the line wanted.
    let window = probeBytes
    for (;;) {
      const bytes = await this.#readRange(offset, Math.min(limit, offset + window))
      const newlineAt = bytes.indexOf(newline)
      if (newlineAt === -1) {
        if (offset + window >= limit) return undefined
        window *= 4
        continue
      }
      const nextNewline = bytes.indexOf(newline, newlineAt + 1)
      if (nextNewline !== -1) {
        const line = bytes.subarray(newlineAt + 1, nextNewline)
        if (!isBlank(line)) {
          const start = offset + newlineAt + 1
          const index = parseIndex(line.toString('utf8'))
          if (index === undefined) throw await this.#corruptAt(start, 'is not a JSON event with a numeric "index"', 'Fix or remove that line; nothing was changed')
          return { start, index }
        }
      }
      return this.#lineAt(offset + newlineAt + 1, limit)
    }
  }

  /** The first non-blank line starting at or after `start` (a line start) and before `limit`, with its index. */
  async #lineAt(start: number, limit: number): Promise<{ start: number; index: number } | undefined> {
    let lineStart = start
    let window = probeBytes
    while (lineStart < limit) {
      const bytes = await this.#readRange(lineStart, Math.min(limit, lineStart + window))
      const lineEnd = bytes.indexOf(newline)
      if (lineEnd === -1) {
        if (lineStart + window >= limit) return undefined
        window *= 4
        continue
      }
      const line = bytes.subarray(0, lineEnd)
      if (!isBlank(line)) {
        const index = parseIndex(line.toString('utf8'))
        if (index === undefined) throw await this.#corruptAt(lineStart, 'is not a JSON event with a numeric "index"', 'Fix or remove that line; nothing was changed')
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

  watch(onAppend: (length: number) => void): () => void {
    // Only a follower can see appends it did not make; a writer holds the lock.
    if (!this.#readOnly || this.#closed) return () => {}
    this.#followers.add(onAppend)
    if (this.#watcher === undefined) {
      this.#watcher = watch(this.name, { persistent: false }, () => void this.#refresh())
      this.#watcher.on('error', () => {}) // the safety poll carries on alone
      this.#safetyPoll = setInterval(() => void this.#refresh(), followSafetyPollMs)
      this.#safetyPoll.unref()
    }
    return () => {
      this.#followers.delete(onAppend)
      if (this.#followers.size === 0) this.#stopFollowing()
    }
  }

  #stopFollowing(): void {
    this.#watcher?.close()
    this.#watcher = undefined
    clearInterval(this.#safetyPoll)
    this.#safetyPoll = undefined
  }

  /** Notices lines the writer has completed since the last look; coalesces overlapping calls into one more pass. */
  #refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#refreshAgain = true
      return this.#refreshing
    }
    this.#refreshing = (async () => {
      try {
        do {
          this.#refreshAgain = false
          if (this.#closed) return
          const size = (await this.#handle().stat()).size
          if (size <= this.#end) continue
          const { lastLine, fragmentStart } = await this.#findLastLine(this.#end, size)
          const index = lastLine ? parseIndex(lastLine.text) : undefined
          if (index === undefined || index < this.#length) continue
          this.#end = fragmentStart
          this.#length = index + 1
          this.#rememberOffset(this.#length, this.#end)
          for (const follower of this.#followers) follower(this.#length)
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
    await this.#file?.close()
    this.#file = undefined
    await this.#releaseLock?.()
  }
}
