/**
 * The one interface every log storage implements: an NDJSON file, memory,
 * IndexedDB, PostgreSQL. The log knows nothing else about where events live.
 */

import type { AppendCondition, EventFilter } from './filter.js'

/**
 * What the log records about an event besides the event itself, stored with
 * it under `_meta` (the last field before `index` on a line). Every field is
 * optional: events written by 0.2.x, or with `metadata: false`, have none.
 */
export interface EventMeta {
  /**
   * When the event was appended, in UTC with milliseconds, as
   * `2026-12-01T21:30:00.123Z` (so it sorts and compares as text). Never
   * earlier than the time of the event before it in the same log.
   */
  readonly at?: string
  /** The index of the event that caused this one. */
  readonly causedBy?: number
  /** Ties together the events of one flow; inherited from the causing event unless given. */
  readonly correlationId?: string
}

/** A stored event: the event's own fields, its 0-based position in the log, and its metadata. */
export type Indexed<E> = E & { readonly index: number; readonly _meta?: EventMeta }

/** Options the log passes along with one batch of records. */
export interface StorageAppendOptions {
  /**
   * When set, the storage must refuse the batch with an `AppendConflictError`
   * unless its last index is exactly this (`-1` for an empty log), checked
   * atomically with the write.
   * @default undefined (no check)
   */
  expectedLastIndex?: number
  /**
   * When set, the storage must refuse the batch with an `AppendConflictError`
   * if an event stored after `condition.after` matches the condition's
   * filter (`matchesFilter` in core/filter.ts says which do), checked
   * atomically with the write: `new AppendConflictError(name, { condition,
   * event, actualLastIndex })` with the first matching event. Only events
   * stored before the batch count, not the batch's own.
   * @default undefined (no check)
   */
  condition?: AppendCondition
  /**
   * When `true`, the records are one `log.appendAll()` batch: after a crash
   * (kill -9, power loss) they must all be there or none, so a storage that
   * can be torn mid-write marks the batch and sets a torn one aside whole on
   * open. Without it each record is an event of its own, and a crash during
   * the write may keep any prefix of the records (none of their appends had
   * resolved). A batch of one record needs no mark.
   * @default false
   */
  atomic?: boolean
}

/** Options the log passes to `LogStorage.open`. */
export interface StorageOpenOptions {
  /**
   * The log only reads and follows (`initLog({ readOnly: true })`): the
   * storage must change nothing it stores (no crash repair, no writer's
   * lock), and the log never calls `append`.
   * @default false
   */
  readOnly?: boolean
}

/**
 * Where a log keeps its events. Implement these few methods to put a log
 * anywhere; the built-in storages use nothing more, and
 * `describeLogStorage` (`tiny-event-sourcing/testing`) checks what is
 * promised here.
 *
 * Records are JSON texts of plain objects without an `index` field; the
 * storage gives them consecutive indices, in the order given.
 *
 * What a storage may rely on from the log: `open` first, once per log; then
 * `append` one call at a time (the next only after the previous one
 * settled), never with `readOnly`; `read` at any time, several at once and
 * during an `append`; `watch` at most once; `close` once, after the last
 * `append` settled (reads may still be running: they must end, with their
 * events or early, not hang). Other callers (a command-line tool, a copy
 * between storages) keep to the same order.
 */
export interface LogStorage {
  /** Human-readable name used in error messages (a filename, a table…). */
  readonly name: string
  /**
   * Optional: whether other processes or machines may append to this storage
   * while it is open (PostgreSQL). The log then keeps the process alive while
   * one of its iterators waits, as it does for a `readOnly` log; a storage's
   * own timers and connections never do.
   * @default false
   */
  readonly othersMayAppend?: boolean
  /**
   * Prepares the storage (recovering from crashes if needed, unless
   * `readOnly`) and resolves with the number of stored events. The log calls
   * it once, before any other member.
   * Rejects with the storage's explanation when it cannot be used (e.g.
   * `LogLockedError` when another writer holds it, `CorruptLogError` for
   * what it cannot read); the log is then not opened.
   * @throws (rejects with) `LogLockedError` (`LOG_LOCKED`), `CorruptLogError` (`LOG_CORRUPT`),
   * `FileAccessError` (`FILE_ACCESS`) or the storage's own `TinyEventSourcingError`.
   * @example
   * const storage = memoryStorage()
   * const length = await storage.open() // 0 for a new storage
   */
  open(options?: StorageOpenOptions): Promise<number>
  /**
   * Stores the records after every record already stored, all or nothing, and
   * resolves with the index given to the first. A record must be readable
   * through `read()` once this resolves, and not before it is durable as
   * promised by the storage's options. Rejects with `AppendConflictError`
   * when `options` asks for a condition that does not hold (nothing stored),
   * `LogClosedError` after `close()`, or the storage's own error when the
   * write failed; a rejected call stores nothing, and the log goes on with
   * the next one. Called one batch at a time (see above); a storage several
   * logs share (one in memory, a database table) gets calls from each.
   * @throws (rejects with) `AppendConflictError` (`APPEND_CONFLICT`), `LogClosedError` (`LOG_CLOSED`),
   * or the storage's own error (e.g. `TinyEventSourcingError` `LOG_WRITE_FAILED` for a file).
   * @example
   * const first = await storage.append(['{"type":"bookmark","url":"https://a.example"}'], { expectedLastIndex: -1 })
   */
  append(records: readonly string[], options?: StorageAppendOptions): Promise<number>
  /**
   * Reads stored events in index order, starting at index `from`, in batches,
   * up to the events stored when each batch is read; then ends. Each event is
   * a fresh object its consumer may keep or change.
   *
   * `filter` is a hint: a storage may leave out events that do not match it
   * (PostgreSQL filters in SQL), or ignore it; the log checks every event
   * against the filter itself.
   * @throws (the iteration rejects with) `CorruptLogError` (`LOG_CORRUPT`) for a stored event it cannot read.
   * @example
   * ```ts
   * for await (const batch of storage.read(0, { types: ['bookmark'] })) {
   *   for (const event of batch) console.log(event.index, event.type)
   * }
   * ```
   */
  read(from: number, filter?: EventFilter): AsyncIterable<Indexed<Record<string, unknown>>[]>
  /**
   * Optional: calls `onAppend(length)` when events are stored by someone other
   * than this storage object (another process, tab or machine). Returns a
   * function that stops the calls.
   *
   * A storage that can lose track of the events written next (a followed file
   * replaced or truncated by another program) calls `onFailure(error)` once
   * and then stops the calls: the log ends every iterator with that error.
   * Storages that cannot lose track ignore it.
   * @example
   * const stop = storage.watch?.((length) => console.log(`${length} events now`))
   */
  watch?(onAppend: (length: number) => void, onFailure?: (error: Error) => void): () => void
  /**
   * Finishes pending work and releases the storage (files, locks,
   * connections it opened; not a connection pool it was given). Reads still
   * running end. Called once per `open`. Whether the object may be opened
   * again afterwards is the storage's to say: `memoryStorage()` may (its
   * events live in the object), a file is opened anew with `fileStorage(name)`.
   * @throws (rejects with) the storage's own error when releasing fails.
   * @example
   * await storage.close()
   */
  close(): Promise<void>
}
