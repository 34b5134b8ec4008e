/**
 * The one interface every log storage implements: an NDJSON file, memory,
 * IndexedDB, PostgreSQL. The log knows nothing else about where events live.
 */

/** A stored event: the event's own fields plus its 0-based position in the log. */
export type Indexed<E> = E & { readonly index: number }

/** Options the log passes along with one batch of records. */
export interface StorageAppendOptions {
  /**
   * When set, the storage must refuse the batch with an `AppendConflictError`
   * unless its last index is exactly this (`-1` for an empty log), checked
   * atomically with the write.
   */
  expectedLastIndex?: number
}

/**
 * Where a log keeps its events. Implement these few methods to put a log
 * anywhere; the built-in storages use nothing more.
 *
 * Records are JSON texts of plain objects without an `index` field; the
 * storage gives them consecutive indices, in the order given.
 */
export interface LogStorage {
  /** Human-readable name used in error messages (a filename, a table…). */
  readonly name: string
  /** Prepares the storage (recovering from crashes if needed) and resolves with the number of stored events. */
  open(): Promise<number>
  /**
   * Stores the records after every record already stored, all or nothing, and
   * resolves with the index given to the first. A record must be readable
   * through `read()` once this resolves, and not before it is durable as
   * promised by the storage's options.
   */
  append(records: readonly string[], options?: StorageAppendOptions): Promise<number>
  /**
   * Reads stored events in index order, starting at index `from`, in batches,
   * up to the events stored when each batch is read; then ends. Each event is
   * a fresh object its consumer may keep or change.
   */
  read(from: number): AsyncIterable<Indexed<Record<string, unknown>>[]>
  /**
   * Optional: calls `onAppend(length)` when events are stored by someone other
   * than this storage object (another process, tab or machine). Returns a
   * function that stops the calls.
   *
   * A storage that can lose track of the events written next (a followed file
   * replaced or truncated by another program) calls `onFailure(error)` once
   * and then stops the calls: the log ends every iterator with that error.
   * Storages that cannot lose track ignore it.
   */
  watch?(onAppend: (length: number) => void, onFailure?: (error: Error) => void): () => void
  /** Finishes pending work and releases the storage (files, locks, connections). */
  close(): Promise<void>
}
