/**
 * The one interface every state-store backend implements: a file, memory,
 * IndexedDB, PostgreSQL. The state store knows nothing else about where
 * snapshots live.
 */

/**
 * A read model's state together with the index of the last event it
 * reflects: the envelope a state file holds, `{ "_version": N, "state": … }`,
 * as in 0.2.x, so a backend written for 0.2.x works unchanged.
 */
export interface StateSnapshot<S> {
  /** The index of the last event `state` reflects; `-1`: none yet. */
  _version: number
  state: S
  /**
   * The `version` of the projection that built `state` (see `project`), when
   * one was given. A backend stores it and gives it back unchanged; a 0.2.x
   * backend that stores the whole snapshot does so. One that drops it makes
   * `project({ version })` rebuild the read model on every start.
   */
  _projection?: number | string
}

/**
 * Where a state store keeps its snapshot. Implement `name`, `read` and
 * `write` to keep read models anywhere (a 0.2.x backend has just these); the
 * optional members make saving and closing better where a medium allows.
 *
 * `describeStateStoreBackend` (`tiny-event-sourcing/testing`) checks what is
 * promised here. What a backend may rely on from the store: `read` once, when
 * the store opens, before any write; then `write` one call at a time (the
 * next only after the previous one settled; a failed one is retried later
 * with the latest snapshot); `writeSync` only when the process exits, while
 * no `write` can finish any more; `close` once, last.
 */
export interface StateStoreBackend<S> {
  /** Human-readable name used in error messages (a filename, a key…). */
  readonly name: string
  /** The state a new store starts with when nothing is stored yet, if the backend was given one. */
  readonly initialState?: S
  /** Resolves with the stored snapshot, or `null` when nothing is stored yet. Rejects (never resolves `null`) when what is stored is unreadable. */
  read(): Promise<StateSnapshot<S> | null>
  /**
   * Replaces the stored snapshot, all or nothing: a crash leaves either the
   * old or the new one. The store calls one `write` at a time, and changes
   * nothing in `snapshot.state` until it resolves; after that the state may
   * be changed in place, so keep its text (or a copy), not the object. The
   * built-in backends build that text in slices between which the program
   * runs; one `JSON.stringify` works too, but freezes the program while it
   * runs (about a second for 68 MB).
   */
  write(snapshot: StateSnapshot<S>): Promise<void>
  /**
   * Optional: `write`, done synchronously. A store calls it only when the
   * process exits (`process.exit()`) before its latest state is written, when
   * nothing asynchronous can run any more. Backends that cannot write
   * synchronously leave it out.
   */
  writeSync?(snapshot: StateSnapshot<S>): void
  /**
   * Optional: releases what the backend holds (a connection pool it made).
   * `StateStore.close()` calls it after its last write; nothing is called on
   * the backend after it.
   */
  close?(): Promise<void>
}
