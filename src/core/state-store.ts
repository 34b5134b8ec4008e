import type { Environment } from './environment.js'
import { prefixed, StaleVersionError, StateStoreClosedError, usageError } from './errors.js'
import { checkSnapshot } from './snapshot-envelope.js'
import type { StateSnapshot, StateStoreBackend } from './state-store-backend.js'
import { throttledWriter } from './throttled-writer.js'

/** Options of `initStateStore`. */
export interface InitStateStoreOptions<S> {
  /** Where the snapshot is kept, e.g. `fsStoreBackend('data/bookmarks.json')` or `memoryStoreBackend()`. */
  storeBackend: StateStoreBackend<S>
  /** The state of a store that has nothing stored yet (and of a projection rebuilt from scratch). Overrides the backend's. */
  initialState?: S
  /**
   * Coalesces writes: at most one write per this many milliseconds, and under
   * a steady stream of updates, one at least this often. `0` writes after
   * every run of synchronous updates. A big state is written less often: the
   * next write waits at least nine times as long as the last one kept the
   * program busy, so that saving takes at most a tenth of the time.
   *
   * @default 1000
   */
  writeInterval?: number
}

/**
 * A read model's state and the index of the last event it reflects, kept in
 * memory and written to its backend in the background. `project()` works
 * with any object that implements it.
 */
export interface StateStore<S> {
  /** Where the state is kept (the backend's name, e.g. the file's absolute path). */
  readonly name: string
  /**
   * The current state. It may be changed in place and handed back to
   * `update` (what `project` does): await `beforeChange()` first, so no save
   * is reading it meanwhile.
   */
  getState(): S
  /** The index of the last event the state reflects; `-1` for a new store. */
  getVersion(): number
  /**
   * Replaces the state and version at once (`newState` may be the current
   * state, changed in place), in memory right away and in the backend within
   * `writeInterval`.
   *
   * @throws StaleVersionError (`STATE_VERSION_STALE`), keeping the old state, unless `newVersion` is higher than the current version.
   * @throws StateStoreClosedError (`STATE_STORE_CLOSED`) once `close()` was called, or after `abandon()`.
   */
  update(newState: S, newVersion: number): void
  /**
   * Optional: what to await before changing the state in place. A save reads
   * the state in slices, letting the program run between them; a state
   * changed in place meanwhile would be saved half old, half new. Gives
   * `undefined` when nothing is reading the state (so most calls need no
   * await), else a promise that resolves once it may be changed.
   */
  beforeChange?(): Promise<void> | undefined
  /**
   * Optional: stops saving for good, because the state in memory may no
   * longer match the version (a reducer threw halfway through changing it in
   * place): what was saved last stays, and a restart goes on from there.
   * Later updates throw `StateStoreClosedError`; `close()` writes nothing.
   */
  abandon?(): void
  /** The `version` of the projection that built the state (see `project`), `undefined` if none was given. */
  getProjection(): number | string | undefined
  /**
   * Starts over: the initial state at version `-1`, recorded as built by
   * projection `projection`, to be rebuilt from the start of the log.
   *
   * @throws StateStoreClosedError (`STATE_STORE_CLOSED`) once `close()` was called.
   */
  reset(projection?: number | string): void
  /** Writes the latest state now, if it is not written yet, and resolves once it is; rejects if the backend fails. */
  flush(): Promise<void>
  /** Flushes, closes the backend, and stops: later updates throw. Calling it twice is harmless. */
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
export async function initStateStore<S>(options: InitStateStoreOptions<S>, environment: Environment): Promise<StateStore<S>> {
  const backend = options?.storeBackend
  if (typeof backend?.read !== 'function' || typeof backend.write !== 'function') {
    throw usageError('initStateStore() needs { storeBackend }, such as fsStoreBackend("state.json")')
  }
  const writeInterval = options.writeInterval ?? defaultWriteInterval
  if (typeof writeInterval !== 'number' || !(writeInterval >= 0) || writeInterval === Infinity) {
    throw usageError(`initStateStore({ writeInterval }) takes milliseconds (0 or more), got ${String(options.writeInterval)}`)
  }
  const initialState = options.initialState !== undefined ? options.initialState : backend.initialState
  if (initialState === undefined) {
    throw usageError(`the state store ${backend.name} needs an initialState, in initStateStore() or fsStoreBackend()`)
  }
  let initialText: string
  try {
    initialText = JSON.stringify(initialState)
  } catch (error) {
    throw usageError(`the initial state of ${backend.name} cannot be stored as JSON: ${(error as Error).message}`, { cause: error })
  }
  const readStarted = Date.now()
  const stored = await backend.read()
  const readMs = Date.now() - readStarted
  if (stored === undefined) {
    throw usageError(`${backend.name}: read() gave undefined; give null when nothing is stored`)
  }
  // A custom backend's snapshot is checked as a file's is: a 0.2.x one gives { _version, state }.
  const snapshot = stored === null ? null : checkSnapshot<S>(stored, `${backend.name} (as read by its backend)`)
  return backgroundStateStore<S>(backend, initialText, snapshot, writeInterval, snapshot === null ? 0 : readMs, environment)
}

/** What the exit hooks do with a store whose latest state may not be written yet. */
interface ExitSaver {
  /** When the event loop is empty or the page is left: writes what is pending, once per change. */
  flushBeforeExit(): void
  /** When only synchronous work can run (Node's `process.exit()`): the last chance. */
  writeOnExit(): void
}

/** Stores whose latest state may not be written yet: saved when the program ends. */
const openStores = new Set<ExitSaver>()
let exitHooksInstalled = false

function installExitHooks(environment: Environment): void {
  if (exitHooksInstalled) return
  exitHooksInstalled = true
  environment.onExit({
    beforeExit() {
      for (const store of openStores) store.flushBeforeExit()
    },
    exit() {
      for (const store of openStores) store.writeOnExit()
    },
  })
}

/**
 * The store `initStateStore` opens. Its state lives in this closure's
 * variables, not in class fields: the browser bundle is smaller so.
 */
function backgroundStateStore<S>(
  backend: StateStoreBackend<S>,
  initialText: string,
  snapshot: StateSnapshot<S> | null,
  writeInterval: number,
  readMs: number,
  environment: Environment,
): StateStore<S> {
  const name = backend.name
  snapshot ??= { _version: -1, state: JSON.parse(initialText) as S }
  let state = snapshot.state
  let version = snapshot._version
  /** The projection version the state was built by (see `project`). */
  let projection = snapshot._projection
  /** Counts updates and resets, so the exit hook flushes once per change. */
  let changeCount = 0
  let exitFlushedChanges = 0
  let closing: Promise<void> | undefined
  let closeCalled = false
  let abandoned = false
  /** While a save reads the state: resolves once it is done with it. */
  let reading: Promise<void> | undefined
  /** The state a save is reading was handed to `update` again, so changed in place under it. */
  let changedUnderSave = false

  const currentSnapshot = (): StateSnapshot<S> => {
    const current: StateSnapshot<S> = { _version: version, state }
    if (projection !== undefined) current._projection = projection
    return current
  }

  /** Writes the current snapshot; resolves with the milliseconds the state was held, `undefined` if it changed under the save. */
  async function save(): Promise<number | undefined> {
    const started = Date.now()
    let done!: () => void
    reading = new Promise<void>((resolve) => (done = resolve))
    changedUnderSave = false
    try {
      // The backend reads the state until its write resolves.
      await backend.write(currentSnapshot())
      return changedUnderSave ? undefined : Date.now() - started
    } finally {
      reading = undefined
      done()
    }
  }

  // Writing a snapshot costs about twice what reading it did (measured: 2.5× for 64 MB): the first write waits accordingly.
  const writer = throttledWriter({ name, writeInterval, save, warn: environment.warn, busyMs: 2 * readMs })

  const exitSaver: ExitSaver = {
    flushBeforeExit() {
      // Once per change: a failing backend must not keep the program from ending.
      if (!writer.pending() || exitFlushedChanges === changeCount) return
      exitFlushedChanges = changeCount
      writer.flush().catch(() => {}) // reported by the writer's own retries
    },
    writeOnExit() {
      if (!writer.pending() || backend.writeSync === undefined) return
      try {
        backend.writeSync(currentSnapshot())
        writer.written()
      } catch (error) {
        // Warnings are printed asynchronously, too late now.
        console.error(prefixed(`could not save the state store ${name} on exit: ${(error as Error)?.message ?? String(error)}`))
      }
    },
  }
  openStores.add(exitSaver)
  installExitHooks(environment)

  const refuseIfClosed = () => {
    if (closeCalled || abandoned) throw new StateStoreClosedError(name)
  }

  return {
    name,
    getState: () => state,
    getVersion: () => version,
    update(newState, newVersion) {
      refuseIfClosed()
      if (!Number.isInteger(newVersion)) {
        throw usageError(`${name}: update(state, version) needs an event index as version, got ${String(newVersion)}`)
      }
      if (newVersion <= version) throw new StaleVersionError(name, version, newVersion)
      if (reading !== undefined && newState === state) changedUnderSave = true
      state = newState
      version = newVersion
      changeCount++
      writer.changed()
    },
    beforeChange: () => reading,
    abandon() {
      abandoned = true
      writer.stop()
      openStores.delete(exitSaver)
    },
    getProjection: () => projection,
    reset(newProjection) {
      refuseIfClosed()
      state = JSON.parse(initialText) as S
      version = -1
      projection = newProjection
      changeCount++
      writer.changed()
    },
    flush: () => (abandoned ? Promise.resolve() : writer.flush()),
    close() {
      closeCalled = true
      closing ??= (abandoned ? Promise.resolve() : writer.flush()).then(
        async () => {
          writer.stop()
          openStores.delete(exitSaver)
          await backend.close?.()
        },
        (error: unknown) => {
          closing = undefined // a later close() tries again
          throw error
        },
      )
      return closing
    },
  }
}
