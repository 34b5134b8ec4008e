import type { StateSnapshot, StateStoreBackend } from './backends/types.js'
import { CorruptStateError, StaleVersionError, StateStoreClosedError } from './errors.js'

/** Options of `initStateStore`. */
export interface InitStateStoreOptions<S> {
  /** Where the snapshot is kept, e.g. `fsStoreBackend('data/bookmarks.json')` or `memoryStoreBackend()`. */
  storeBackend: StateStoreBackend<S>
  /** The state of a store that has nothing stored yet (and of a projection rebuilt from scratch). Overrides the backend's. */
  initialState?: S
  /**
   * Coalesces writes: at most one write per this many milliseconds, and under
   * a steady stream of updates, one at least this often. Default `1000`.
   * `0` writes after every run of synchronous updates.
   */
  writeInterval?: number
}

/**
 * A read model's state and the index of the last event it reflects, kept in
 * memory and written to its backend in the background.
 */
export interface StateStore<S> {
  /** Where the state is kept (the backend's name, e.g. the file's absolute path). */
  readonly name: string
  /** The current state. Treat it as immutable: build a new state and pass it to `update`. */
  getState(): S
  /** The index of the last event the state reflects; `-1` for a new store. */
  getVersion(): number
  /**
   * Replaces the state and version at once, in memory right away and in the
   * backend within `writeInterval`. Throws `StaleVersionError` (keeping the
   * old state) unless `newVersion` is higher than the current version, and
   * `StateStoreClosedError` once `close()` was called.
   */
  update(newState: S, newVersion: number): void
  /** Writes the latest state now, if it is not written yet, and resolves once it is; rejects if the backend fails. */
  flush(): Promise<void>
  /** Flushes and stops: later updates throw. Calling it twice is harmless. */
  close(): Promise<void>
}

const defaultWriteInterval = 1000

/**
 * Opens a state store: reads the stored snapshot from `storeBackend`, or
 * starts at version `-1` with the initial state. Rejects with
 * `CorruptStateError` (leaving the stored data as it is) when the snapshot is
 * unreadable. The latest state is written on `flush()`, `close()`, within
 * `writeInterval`, and when the process exits (in a browser: when the page is
 * left; a Web Worker has no such moment, so close its stores), even without
 * `close()`.
 */
export async function initStateStore<S>(options: InitStateStoreOptions<S>): Promise<StateStore<S>> {
  const backend = options?.storeBackend
  if (typeof backend?.read !== 'function' || typeof backend.write !== 'function') {
    throw new TypeError('tiny-event-sourcing: initStateStore() needs { storeBackend }, e.g. fsStoreBackend("state.json")')
  }
  const writeInterval = options.writeInterval ?? defaultWriteInterval
  if (typeof writeInterval !== 'number' || !(writeInterval >= 0) || writeInterval === Infinity) {
    throw new TypeError(`tiny-event-sourcing: initStateStore({ writeInterval }) takes milliseconds (0 or more), got ${String(options.writeInterval)}`)
  }
  const initialState = options.initialState !== undefined ? options.initialState : backend.initialState
  if (initialState === undefined) {
    throw new TypeError(
      `tiny-event-sourcing: the state store ${backend.name} needs an initialState, in initStateStore() or fsStoreBackend()`,
    )
  }
  let initialText: string
  try {
    initialText = JSON.stringify(initialState)
  } catch (error) {
    throw new TypeError(`tiny-event-sourcing: the initial state of ${backend.name} cannot be stored as JSON: ${(error as Error).message}`, { cause: error })
  }
  const snapshot = await backend.read()
  if (snapshot === undefined) {
    throw new TypeError(`tiny-event-sourcing: the backend ${backend.name} read() gave undefined; it must give null when nothing is stored`)
  }
  if (snapshot !== null && (!Number.isInteger(snapshot?.version) || snapshot.version < -1)) {
    throw new CorruptStateError(backend.name, `the backend returned version ${String(snapshot?.version)}, where an integer of -1 or more was expected`)
  }
  return new BackgroundStateStore<S>(backend, initialText, snapshot, writeInterval)
}

/** Stores whose latest state may not be written yet: saved when the process exits or the page is left. */
const openStores = new Set<BackgroundStateStore<unknown>>()
let exitHooksInstalled = false

function installExitHooks(): void {
  if (!exitHooksInstalled && typeof process === 'undefined' && typeof addEventListener === 'function') {
    exitHooksInstalled = true
    // A page being left (closed, reloaded, navigated away): IndexedDB completes the writes started now.
    addEventListener('pagehide', () => {
      for (const store of openStores) store.flushBeforeExit()
    })
  }
  if (exitHooksInstalled || typeof process === 'undefined' || typeof process.on !== 'function') return
  exitHooksInstalled = true
  // The event loop ran dry without close(): there is still time for ordinary writes.
  process.on('beforeExit', () => {
    for (const store of openStores) store.flushBeforeExit()
  })
  // process.exit(), or what beforeExit could not finish: only synchronous work runs now.
  process.on('exit', () => {
    for (const store of openStores) store.writeOnExit()
  })
}

class BackgroundStateStore<S> implements StateStore<S> {
  readonly name: string
  #backend: StateStoreBackend<S>
  #initialText: string
  #state: S
  #version: number
  #projection: number | string | undefined
  #writeInterval: number
  /** Counts changes; `#savedChanges` is the count the last successful write reflected. */
  #changes = 0
  #savedChanges = 0
  #exitFlushedChanges = -1
  #timer: ReturnType<typeof setTimeout> | undefined
  #writing: Promise<void> | undefined
  #lastWriteStart = -Infinity
  /** The last write failed: retry no faster than once a second. */
  #failed = false
  /** A background failure was reported and no write has succeeded since. */
  #reported = false
  #closing: Promise<void> | undefined
  #closeCalled = false

  constructor(backend: StateStoreBackend<S>, initialText: string, snapshot: StateSnapshot<S> | null, writeInterval: number) {
    this.name = backend.name
    this.#backend = backend
    this.#initialText = initialText
    this.#writeInterval = writeInterval
    if (snapshot === null) {
      this.#state = JSON.parse(initialText) as S
      this.#version = -1
    } else {
      this.#state = snapshot.state
      this.#version = snapshot.version
      this.#projection = snapshot.projection
    }
    openStores.add(this as BackgroundStateStore<unknown>)
    installExitHooks()
  }

  getState(): S {
    return this.#state
  }

  getVersion(): number {
    return this.#version
  }

  update(newState: S, newVersion: number): void {
    if (this.#closeCalled) throw new StateStoreClosedError(this.name)
    if (!Number.isInteger(newVersion)) {
      throw new TypeError(`tiny-event-sourcing: update(state, version) on ${this.name} needs an integer version (an event index), got ${String(newVersion)}`)
    }
    if (newVersion <= this.#version) throw new StaleVersionError(this.name, this.#version, newVersion)
    this.#state = newState
    this.#version = newVersion
    this.#changed()
  }

  /** The projection version the state was built by (see `project`). */
  static projectionOf(store: StateStore<unknown>): number | string | undefined {
    return BackgroundStateStore.#own(store).#projection
  }

  /** Starts over for a rebuild: the initial state at version `-1`, built by `projection`. */
  static restart(store: StateStore<unknown>, projection: number | string | undefined): void {
    const own = BackgroundStateStore.#own(store)
    if (own.#closeCalled) throw new StateStoreClosedError(own.name)
    own.#state = JSON.parse(own.#initialText)
    own.#version = -1
    own.#projection = projection
    own.#changed()
  }

  static #own(store: StateStore<unknown>): BackgroundStateStore<unknown> {
    if (!(store instanceof BackgroundStateStore)) {
      throw new TypeError('tiny-event-sourcing: project() needs a store made by initStateStore()')
    }
    return store
  }

  #changed(): void {
    this.#changes++
    this.#schedule()
  }

  /** Throttle, not debounce: the next write is due one interval after the previous one started, however often updates come. */
  #schedule(): void {
    if (this.#timer !== undefined || this.#writing !== undefined || this.#savedChanges === this.#changes) return
    const interval = this.#failed ? this.#retryInterval() : this.#writeInterval
    const delay = Math.max(0, this.#lastWriteStart + interval - Date.now())
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#write().catch((error: unknown) => this.#reportBackgroundFailure(error))
    }, delay)
    // Never keeps the process alive on its own: the exit hooks save what is pending.
    ;(this.#timer as { unref?: () => void }).unref?.()
  }

  #retryInterval(): number {
    return Math.max(this.#writeInterval, 1000)
  }

  #reportBackgroundFailure(error: unknown): void {
    if (this.#reported) return // once, until a write succeeds again
    this.#reported = true
    const message = `tiny-event-sourcing: writing the state store ${this.name} failed (${(error as Error)?.message ?? String(error)}); it is retried every ${this.#retryInterval()} ms and on flush()`
    if (typeof process !== 'undefined' && typeof process.emitWarning === 'function') {
      process.emitWarning(message, { code: 'TINY_EVENT_SOURCING_STATE_WRITE_FAILED' })
    } else {
      console.warn(message)
    }
  }

  #snapshot(): StateSnapshot<S> {
    const snapshot: StateSnapshot<S> = { version: this.#version, state: this.#state }
    if (this.#projection !== undefined) snapshot.projection = this.#projection
    return snapshot
  }

  /** Writes the current snapshot; one write at a time. */
  async #write(): Promise<void> {
    const changes = this.#changes
    this.#lastWriteStart = Date.now()
    let writing: Promise<void>
    try {
      writing = Promise.resolve(this.#backend.write(this.#snapshot()))
    } catch (error) {
      writing = Promise.reject(error) // a backend that throws instead of rejecting
    }
    this.#writing = writing
    try {
      await writing
      if (changes > this.#savedChanges) this.#savedChanges = changes
      this.#failed = false
      this.#reported = false
    } catch (error) {
      this.#failed = true
      throw error
    } finally {
      this.#writing = undefined
      this.#schedule()
    }
  }

  async flush(): Promise<void> {
    const target = this.#changes
    while (this.#savedChanges < target) {
      if (this.#writing !== undefined) {
        // If it fails, the next turn writes again, and that failure rejects the flush.
        await this.#writing.catch(() => {})
        continue
      }
      clearTimeout(this.#timer)
      this.#timer = undefined
      await this.#write()
    }
  }

  close(): Promise<void> {
    this.#closeCalled = true
    this.#closing ??= this.flush().then(
      () => {
        clearTimeout(this.#timer)
        this.#timer = undefined
        openStores.delete(this as BackgroundStateStore<unknown>)
      },
      (error: unknown) => {
        this.#closing = undefined // a later close() tries again
        throw error
      },
    )
    return this.#closing
  }

  /** Called when the event loop is empty: writes what is pending, once per change. */
  flushBeforeExit(): void {
    if (this.#savedChanges === this.#changes || this.#exitFlushedChanges === this.#changes) return
    this.#exitFlushedChanges = this.#changes
    this.flush().catch((error: unknown) => this.#reportBackgroundFailure(error))
  }

  /** Called on process exit: the last chance, synchronous only. */
  writeOnExit(): void {
    if (this.#savedChanges === this.#changes || this.#backend.writeSync === undefined) return
    try {
      this.#backend.writeSync(this.#snapshot())
      this.#savedChanges = this.#changes
    } catch (error) {
      // Warnings are printed asynchronously, too late now.
      console.error(`tiny-event-sourcing: could not save the state store ${this.name} on exit: ${(error as Error)?.message ?? String(error)}`)
    }
  }
}

export { BackgroundStateStore as StateStoreInternals }
