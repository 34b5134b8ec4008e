/**
 * Following a log file another process writes (`readOnly: true`): noticing
 * its new lines, from change notifications and a safety poll, and noticing
 * when the path no longer names the file being read (replaced, deleted,
 * truncated), which ends the following with `LogReplacedError`.
 */
import { type FSWatcher, watch } from 'node:fs'
import { stat } from 'node:fs/promises'
import { LogReplacedError } from '../core/errors.js'
import { incompleteBatchStart } from './atomic-batch.js'
import { indexOf, type LogExtent, type LogFile, parseObject } from './log-file.js'
import type { OffsetSearch } from './offset-search.js'

/** Followers re-check the file this often in case a change notification was missed. */
const followSafetyPollMs = 1000

interface Watcher {
  onAppend: (length: number) => void
  onFailure: ((error: Error) => void) | undefined
}

/** `stat()` of a path that may have been deleted: `undefined` if it was. */
function missingAsUndefined(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
  throw error
}

export class FileFollower {
  #file: LogFile
  #extent: LogExtent
  #offsets: OffsetSearch
  #watchers = new Set<Watcher>()
  /** Set when the file was replaced or truncated: what it reads is no longer the log. */
  #failure: LogReplacedError | undefined
  #watcher: FSWatcher | undefined
  #safetyPoll: ReturnType<typeof setInterval> | undefined
  #refreshing: Promise<void> | undefined
  #refreshAgain = false
  #stopped = false

  constructor(file: LogFile, extent: LogExtent, offsets: OffsetSearch) {
    this.#file = file
    this.#extent = extent
    this.#offsets = offsets
  }

  /** `LogStorage.watch` for a follower. */
  watch(onAppend: (length: number) => void, onFailure?: (error: Error) => void): () => void {
    if (this.#stopped) return () => {}
    const failure = this.#failure
    if (failure) {
      queueMicrotask(() => onFailure?.(failure))
      return () => {}
    }
    const watcher = { onAppend, onFailure }
    this.#watchers.add(watcher)
    if (this.#watcher === undefined) {
      this.#watcher = watch(this.#file.name, { persistent: false }, () => void this.#refresh())
      this.#watcher.on('error', () => {}) // the safety poll carries on alone
      // Unref'd, like the watcher: whether the process waits for another
      // writer's events is the log's decision (it keeps the process alive
      // while an iterator waits, through its environment's keepAlive()), not
      // the storage's. A follower nobody iterates lets its process end.
      this.#safetyPoll = setInterval(() => void this.#refresh(), followSafetyPollMs)
      this.#safetyPoll.unref()
    }
    return () => {
      this.#watchers.delete(watcher)
      if (this.#watchers.size === 0) this.#stopWatching()
    }
  }

  /** A read found the file `size` bytes long, cut below what was read, or cut and written past it again. */
  failTruncated(size: number): LogReplacedError {
    const end = this.#extent.end
    return this.#fail(size < end ? `was truncated from ${end} to ${size} bytes` : 'was truncated and written again')
  }

  /** Stops following for good (the storage is closing). */
  stop(): void {
    this.#stopped = true
    this.#stopWatching()
    this.#watchers.clear()
  }

  /**
   * Records that the file being followed is no longer the log (replaced,
   * deleted or truncated by another program), stops following it and tells
   * the watchers, once. Returns the error to throw.
   */
  #fail(happened: string): LogReplacedError {
    if (this.#failure) return this.#failure
    const failure = new LogReplacedError(this.#file.name, happened, this.#extent.length)
    this.#failure = failure
    this.#stopWatching()
    for (const { onFailure } of this.#watchers) onFailure?.(failure)
    return failure
  }

  #stopWatching(): void {
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
      const file = this.#file
      const extent = this.#extent
      try {
        do {
          this.#refreshAgain = false
          if (this.#stopped || this.#failure) return
          // The open file, and what its path names now: a writer that replaced
          // the file (`repair`, or delete and start afresh) appends to another one.
          const [opened, path] = await Promise.all([file.stat(), stat(file.name).catch(missingAsUndefined)])
          if (path === undefined) return void this.#fail('was deleted')
          if (path.ino !== opened.ino || path.dev !== opened.dev)
            return void this.#fail('was replaced by another file (renamed over, or deleted and created again)')
          const size = opened.size
          if (size < extent.end) return void this.failTruncated(size)
          if (size === extent.end) continue
          const { lastLine, fragmentStart } = await file.lastLine(extent.end, size)
          const event = lastLine ? parseObject(lastLine.text) : undefined
          const index = indexOf(event)
          if (index === undefined) continue
          // Lines past what was read whose index goes back: the file was cut and written again.
          if (index < extent.length) return void this.failTruncated(size)
          // An atomic batch is seen whole or not at all: while its last line is
          // missing (being written, or cut short by a crash and soon set aside
          // by the next writer), the follower stops before its first.
          const batchStart = await incompleteBatchStart(file, { ...lastLine!, event: event!, index }, extent.end)
          if (batchStart?.start === extent.end) continue
          extent.end = batchStart ? batchStart.start : fragmentStart
          extent.length = batchStart ? batchStart.index : index + 1
          this.#offsets.remember(extent.length, extent.end)
          for (const { onAppend } of this.#watchers) onAppend(extent.length)
        } while (this.#refreshAgain)
      } catch {
        // A failed look (among them a file that got shorter during it,
        // FileShrankError) is retried on the next notification or safety
        // poll, which then sees the file as it is.
      } finally {
        this.#refreshing = undefined
      }
    })()
    return this.#refreshing
  }
}
