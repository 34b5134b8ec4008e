import { isUtf8 } from 'node:buffer'
import { fstatSync, writeSync } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { AppendConflictError, FileAccessError, LogClosedError, TinyEventSourcingError, usageError } from '../core/errors.js'
import type { AppendCondition, EventFilter } from '../core/filter.js'
import { matchesFilter } from '../core/filter.js'
import type { Indexed, LogStorage, StorageAppendOptions, StorageOpenOptions } from '../core/log-storage.js'
import { withIndex } from '../core/serialize.js'
import { batchRemaining, markBatchLine, withoutBatchMarker } from './atomic-batch.js'
import { FileFollower } from './follow.js'
import { canStepOver, linePrefilter, StepOverPolicy } from './line-prefilter.js'
import { createFolderFor, explainedError, folderError, readDeniedError } from './folder.js'
import { acquireFileLock } from './lock.js'
import { fixThatLine, isObject, type LogExtent, LogFile, newline, readChunkBytes, repairRemedy } from './log-file.js'
import { OffsetSearch } from './offset-search.js'
import { recoverLogFile } from './recovery.js'

/** Options of `fileStorage`. */
export interface FileStorageOptions {
  /**
   * Flush each batch to disk (`fdatasync`) before its appends resolve.
   * @default false (written to the operating system, which flushes it soon; a power cut may lose the last appends)
   */
  fsync?: boolean
}

type StoredEvent = Indexed<Record<string, unknown>>

/**
 * The NDJSON file storage behind `initLog({ filename })`: one event a line,
 * `JSON.stringify({ ...event, index })`. A writer holds `<file>.lock`; a torn
 * last line left by a crash, or a torn atomic batch (`appendAll`), whole, is
 * moved to `<file>.torn-<time>` on open. Appends may be called before the
 * previous one resolves: they are written one after the other, in call
 * order, each checking its `expectedLastIndex` or `condition` against the
 * file as it is then. A filter given to `read` lets it step over lines of
 * events the filter cannot select without parsing them.
 *
 * @throws its `open()` rejects with `LogLockedError` (`LOG_LOCKED`) when another process writes the file,
 * `CorruptLogError` (`LOG_CORRUPT`) for a line that is not an event, `FileAccessError` (`FILE_ACCESS`) for a
 * file or folder it may not use, and (`readOnly`) `TinyEventSourcingError` `LOG_NOT_FOUND` for a missing file;
 * its `append` rejects with `AppendConflictError` (`APPEND_CONFLICT`), or `LOG_WRITE_FAILED` after a write it
 * could not undo; a follower's reads end with `LogReplacedError` (`LOG_REPLACED`) when the file is replaced.
 * @example
 * const log = await initLog({ storage: fileStorage('data/log.ndjson', { fsync: true }) })
 */
export function fileStorage(filename: string, options: FileStorageOptions = {}): LogStorage {
  return new FileStorage(resolve(filename), options.fsync ?? false)
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

/** A line of JSON whitespace only (what editors leave behind); skipped. */
const blankLine = /^[ \t\r]*$/

/**
 * Every storage between `open()` and `close()`. An open log is a held
 * resource, like its lock: a program that drops its last reference without
 * `close()` must not have the garbage collector close the file under it
 * (Node 20 warns; Node 26 and Bun end the process with `ERR_INVALID_STATE`).
 * Held here, it stays open until `close()` or exit, as the lock does.
 */
const openStorages = new Set<FileStorage>()

/**
 * Opening (with recovery, in recovery.ts), appending and reading. Finding
 * where event N starts is offset-search.ts's job, following another writer
 * follow.ts's.
 */
class FileStorage implements LogStorage {
  readonly name: string
  #fsync: boolean
  /** Set by `open({ readOnly })`: follow a file another process writes, with no lock and no changes to the file. */
  #readOnly = false
  #file: LogFile | undefined
  #releaseLock: (() => Promise<void>) | undefined
  #extent: LogExtent = { end: 0, length: 0 }
  #offsets: OffsetSearch | undefined
  #follower: FileFollower | undefined
  #closed = false
  /** Set when a failed write could not be undone: the file's tail is unknown, so nothing more is written. */
  #broken: unknown
  /** Settles when the appends made so far have; `undefined` when none is in progress. */
  #appending: Promise<void> | undefined

  constructor(filename: string, fsync: boolean) {
    this.name = filename
    this.#fsync = fsync
  }

  async open(options?: StorageOpenOptions): Promise<number> {
    this.#readOnly = options?.readOnly ?? false
    let handle: FileHandle
    if (this.#readOnly) {
      try {
        handle = await open(this.name, 'r')
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
        handle = await open(this.name, 'a+')
      } catch (error) {
        await this.#releaseLock()
        throw this.#openError(error)
      }
    }
    const file = new LogFile(this.name, handle)
    this.#file = file
    openStorages.add(this) // from here on only close() closes the file, even if the program drops the log
    try {
      this.#extent = await recoverLogFile(file, this.#readOnly, () => this.#folderGivenError())
      this.#offsets = new OffsetSearch(file, this.#extent)
      if (this.#readOnly) this.#follower = new FileFollower(file, this.#extent, this.#offsets)
      if (this.#fsync && !this.#readOnly && this.#extent.end === 0) await syncDirectory(dirname(this.name))
    } catch (error) {
      await this.close()
      throw error
    }
    return this.#extent.length
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

  append(records: readonly string[], options?: StorageAppendOptions): Promise<number> {
    // One at a time, in call order: a condition is checked against the file
    // as it is when the write happens, and each write starts where the last
    // one ended, even while an earlier batch waits for its flush.
    const previous = this.#appending
    const appended = previous ? previous.then(() => this.#appendNow(records, options)) : this.#appendNow(records, options)
    const settled = appended.then(
      () => {},
      () => {},
    )
    this.#appending = settled
    void settled.then(() => {
      if (this.#appending === settled) this.#appending = undefined
    })
    return appended
  }

  async #appendNow(records: readonly string[], options: StorageAppendOptions | undefined): Promise<number> {
    if (this.#closed) throw new LogClosedError(this.name)
    if (this.#readOnly) throw usageError(`${this.name} is open read-only`)
    if (this.#broken !== undefined) {
      throw new TinyEventSourcingError('LOG_WRITE_FAILED', `an earlier write to ${this.name} failed and could not be undone; close the log and open it again`, {
        cause: this.#broken,
      })
    }
    const extent = this.#extent
    const expected = options?.expectedLastIndex
    if (expected !== undefined && expected !== extent.length - 1) {
      throw new AppendConflictError(this.name, expected, extent.length - 1)
    }
    const condition = options?.condition
    // Atomic with the write that follows: this storage is the file's only
    // writer (it holds the lock) and its appends run one at a time (above),
    // so no event can land between this check and the write.
    if (condition !== undefined) await this.#checkCondition(condition)
    const file = this.#opened()
    // One fstat a batch: if anything else wrote to the file (an editor, a script,
    // a writer that ignored the lock), our next index may already be taken.
    // Synchronous, like the write: a thread-pool round trip would cost more than the call.
    const size = fstatSync(file.fd).size
    if (size !== extent.end) throw this.#changedError(size, '; nothing was appended')
    let text = ''
    const last = records.length - 1
    if (options?.atomic && last > 0) {
      // Marked so that a crash in the middle of the write is recognised on open and the batch set aside whole (atomic-batch.ts).
      for (let i = 0; i < last; i++) text += `${withIndex(markBatchLine(records[i]!, last - i), extent.length + i)}\n`
      text += `${withIndex(records[last]!, extent.length + last)}\n`
    } else {
      for (let i = 0; i < records.length; i++) text += `${withIndex(records[i]!, extent.length + i)}\n`
    }
    const bytes = Buffer.from(text)
    try {
      this.#writeAll(bytes)
      if (this.#fsync) await file.datasync()
    } catch (error) {
      // Leave no partial line behind: the next append must start on a clean line.
      await file.truncate(extent.end).catch((truncateError: unknown) => {
        this.#broken = truncateError
      })
      throw error
    }
    const first = extent.length
    extent.end += bytes.length
    extent.length += records.length
    this.#offsets!.remember(extent.length, extent.end)
    return first
  }

  /** Refuses the append if an event stored after `condition.after` matches the condition. */
  async #checkCondition(condition: AppendCondition): Promise<void> {
    if (condition.after >= this.#extent.length - 1) return
    for await (const batch of this.#readFrom(condition.after + 1, condition)) {
      for (const event of batch) {
        if (matchesFilter(event, condition)) throw new AppendConflictError(this.name, { condition, event, actualLastIndex: this.#extent.length - 1 })
      }
    }
  }

  /** Another program changed the file under a writer: its view of the file is stale, so it stops rather than guess. */
  #changedError(size: number, consequence: string): Error {
    return new TinyEventSourcingError(
      'LOG_CHANGED',
      `${this.name} was changed by another program while this log had it open ` +
        `(${size} bytes where this log wrote ${this.#extent.end})${consequence}. Stop the other writer, check the file, and open the log again`,
    )
  }

  /**
   * Writes synchronously: appending to the page cache takes microseconds,
   * less than a round trip through libuv's thread pool, and nothing else can
   * interleave with the batch. Durability (`fsync`) stays asynchronous.
   */
  #writeAll(bytes: Buffer): void {
    const fd = this.#opened().fd
    let written = 0
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written)
  }

  async *read(from: number, filter?: EventFilter): AsyncGenerator<StoredEvent[]> {
    try {
      yield* this.#readFrom(from, filter)
    } catch (error) {
      // close() won the race with a read in progress: the read just ends.
      if (this.#closed && error instanceof LogClosedError) return
      throw error
    }
  }

  async *#readFrom(from: number, filter?: EventFilter): AsyncGenerator<StoredEvent[]> {
    const extent = this.#extent
    const prefilter = linePrefilter(filter)
    const stepping = prefilter && new StepOverPolicy()
    if (from >= extent.length || this.#closed) return
    const file = this.#opened()
    const offsets = this.#offsets!
    let offset = await offsets.offsetOf(from)
    let expected = from
    let buffer = Buffer.allocUnsafe(readChunkBytes)
    // The read of the chunk at `offset`, started while the previous one was parsed and delivered.
    let readAhead: Promise<Buffer> | undefined
    while (offset < extent.end && !this.#closed) {
      const chunk = await (readAhead ?? file.readInto(buffer, Math.min(buffer.length, extent.end - offset), offset))
      readAhead = undefined
      const lastNewline = chunk.lastIndexOf(newline)
      if (lastNewline === -1) {
        // Short of the newline that ends every line before the extent's end: the file shrank under the read.
        if (chunk.length < buffer.length) throw await this.#shrankError()
        buffer = Buffer.allocUnsafe(buffer.length * 2) // a line longer than the buffer
        continue
      }
      const complete = chunk.subarray(0, lastNewline + 1)
      if (!isUtf8(complete)) throw await file.invalidUtf8In(complete, offset)
      const text = complete.toString('utf8')
      // The buffer is free once decoded: read the next chunk into it while
      // this one is parsed and delivered, as a read stream does, so the
      // thread pool's round trip is not waited for between chunks.
      const nextOffset = offset + lastNewline + 1
      if (nextOffset < extent.end) {
        readAhead = file.readInto(buffer, Math.min(buffer.length, extent.end - nextOffset), nextOffset)
        readAhead.catch(() => {}) // seen when awaited; a reader that stops early does not wait for it
      }
      const batch: StoredEvent[] = []
      const testing = prefilter !== undefined && stepping!.testNextChunk()
      const chunkFirst = expected
      let steppedOver = 0
      for (let lineStart = 0, lineEnd = text.indexOf('\n'); lineEnd !== -1; lineStart = lineEnd + 1, lineEnd = text.indexOf('\n', lineStart)) {
        const line = text.slice(lineStart, lineEnd)
        if (testing && canStepOver(line, expected, prefilter)) {
          expected++ // an event the filter does not select: not parsed (line-prefilter.ts)
          steppedOver++
          continue
        }
        let event: unknown
        try {
          event = JSON.parse(line)
        } catch {
          // Checked only here: a blank line is never valid JSON, and testing every line costs.
          if (blankLine.test(line)) continue
          throw await file.corruptInChunk(text, lineStart, offset, 'is not valid JSON', fixThatLine)
        }
        if (!isObject(event) || event.index !== expected) {
          throw await file.corruptInChunk(text, lineStart, offset, this.#indexProblem(event, expected), repairRemedy(this.name))
        }
        if (batchRemaining(event) !== undefined) withoutBatchMarker(event)
        batch.push(event as StoredEvent)
        expected++
      }
      if (testing) stepping!.tested(expected - chunkFirst, steppedOver)
      offset = nextOffset
      offsets.remember(expected, offset)
      if (batch.length > 0) yield batch
    }
  }

  #indexProblem(event: unknown, expected: number): string {
    if (!isObject(event)) return 'is not a JSON object'
    const index = event.index
    if (!Number.isInteger(index)) return `has no numeric "index" (expected ${expected})`
    return (index as number) < expected
      ? `has index ${index}, but the lines before it already reached ${expected - 1}: lines were duplicated or reordered`
      : `has index ${index} where ${expected} was expected: lines were removed or indices edited`
  }

  /** The error for a read that found less than the lines already counted up to the extent's end. */
  async #shrankError(): Promise<Error> {
    const size = (await this.#opened().stat()).size
    if (!this.#follower) return this.#changedError(size, '')
    return this.#follower.failTruncated(size)
  }

  watch(onAppend: (length: number) => void, onFailure?: (error: Error) => void): () => void {
    // Only a follower can see appends it did not make; a writer holds the lock.
    if (!this.#follower || this.#closed) return () => {}
    return this.#follower.watch(onAppend, onFailure)
  }

  #opened(): LogFile {
    if (this.#file === undefined) throw new LogClosedError(this.name)
    return this.#file
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    openStorages.delete(this)
    this.#follower?.stop()
    const file = this.#file
    this.#file = undefined
    try {
      await file?.close()
    } finally {
      await this.#releaseLock?.()
    }
  }
}
