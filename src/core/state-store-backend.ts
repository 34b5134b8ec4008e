/**
 * The one interface every state-store backend implements: a file, memory,
 * IndexedDB, PostgreSQL. The state store knows nothing else about where
 * snapshots live.
 */

/** A read model's state together with the index of the last event it reflects (`-1`: none yet). */
export interface StateSnapshot<S> {
  version: number
  state: S
  /**
   * The `version` of the projection that built this state (see `project`), if
   * one was given; a backend stores it and gives it back unchanged. On disk:
   * `"_projection"`.
   */
  projection?: number | string
}

/**
 * Where a state store keeps its snapshot. Implement these to keep read models
 * anywhere; the built-in backends use nothing more, and
 * `describeStateStoreBackend` (`tiny-event-sourcing/testing`) checks what is
 * promised here. On disk a snapshot is the envelope `{ "_version": N, "state": … }`.
 *
 * What a backend may rely on from the store: `read` once, when the store
 * opens, before any write; then `write` one call at a time (the next only
 * after the previous one settled; a failed one is retried later with the
 * latest snapshot); `writeSync` only when the process exits, while no
 * `write` can finish any more. The state in a snapshot stays the store's:
 * store a copy (its JSON), never the object.
 */
export interface StateStoreBackend<S> {
  /** Human-readable name used in error messages (a filename, a key…). */
  readonly name: string
  /** The state a new store starts with when nothing is stored yet, if the backend was given one. */
  readonly initialState?: S
  /** Resolves with the stored snapshot, or `null` when nothing is stored yet. Rejects (never resolves `null`) when what is stored is unreadable. */
  read(): Promise<StateSnapshot<S> | null>
  /** Replaces the stored snapshot, all or nothing: a crash leaves either the old or the new one. */
  write(snapshot: StateSnapshot<S>): Promise<void>
  /**
   * Optional: `write`, done synchronously. A store calls it only when the
   * process exits (`process.exit()`) before its latest state is written, when
   * nothing asynchronous can run any more. Backends that cannot write
   * synchronously leave it out.
   */
  writeSync?(snapshot: StateSnapshot<S>): void
}
