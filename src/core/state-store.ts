import type { StateSnapshot, StateStoreBackend } from './state-store-backend.js'
import type { Environment } from './environment.js'
import { CorruptStateError, prefixed, StaleVersionError, StateStoreClosedError, usageError } from './errors.js'

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
  const snapshot = await backend.read()
  if (snapshot === undefined) {
    throw usageError(`${backend.name}: read() gave undefined; give null when nothing is stored`)
  }
  if (snapshot !== null && (!Number.isInteger(snapshot?.version) || snapshot.version < -1)) {
    throw new CorruptStateError(backend.name, `the backend returned version ${String(snapshot?.version)}, where an integer of -1 or more was expected`)
  }
  return backgroundStateStore<S>(backend, initialText, snapshot, writeInterval, environment)
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
 * For `project()`, kept off the store objects: each store's function that
 * starts it over when its state was built by another projection version.
 */
const projectionSwitches = new WeakMap<StateStore<unknown>, (projection: number | string | undefined) => void>()

/**
 * Makes `store` hold the state of projection `version` (see `project`): when
 * its state was built by another version, starts over from the initial state
 * at version `-1`, to be rebuilt.
 */
export function useProjectionVersion(store: StateStore<unknown>, version: number | string | undefined): void {
  const switchProjection = projectionSwitches.get(store)
  if (switchProjection === undefined) throw usageError('project() needs a store made by initStateStore()')
  switchProjection(version)
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
  environment: Environment,
): StateStore<S> {
  const name = backend.name
  /** The wait after a failed write: retries come no faster than once a second. */
  const retryInterval = Math.max(writeInterval, 1000)
  snapshot ??= { version: -1, state: JSON.parse(initialText) as S }
  let { state, version } = snapshot
  /** The projection version the state was built by (see `project`). */
  let projection = snapshot.projection
  /** Counts changes; `savedChanges` is the count the last successful write reflected. */
  let changes = 0
  let savedChanges = 0
  let exitFlushedChanges = -1
  let timer: ReturnType<typeof setTimeout> | undefined
  let writing: Promise<void> | undefined
  let lastWriteStart = -Infinity
  /** The last write failed: the next one waits `retryInterval`. */
  let failed = false
  /** A background failure was reported and no write has succeeded since. */
  let reported = false
  let closing: Promise<void> | undefined
  let closeCalled = false

  function changed(): void {
    changes++
    schedule()
  }

  /** Throttle, not debounce: the next write is due one interval after the previous one started, however often updates come. */
  function schedule(): void {
    if (timer !== undefined || writing !== undefined || savedChanges === changes) return
    const interval = failed ? retryInterval : writeInterval
    const delay = Math.max(0, lastWriteStart + interval - Date.now())
    timer = setTimeout(() => {
      timer = undefined
      write().catch(reportBackgroundFailure)
    }, delay)
    // Never keeps the process alive on its own: the exit hooks save what is pending.
    ;(timer as { unref?: () => void }).unref?.()
  }

  function reportBackgroundFailure(error: unknown): void {
    if (reported) return // once, until a write succeeds again
    reported = true
    const message = prefixed(
      `writing the state store ${name} failed (${(error as Error)?.message ?? String(error)}); it is retried every ${retryInterval} ms and on flush()`,
    )
    environment.warn(message, 'TINY_EVENT_SOURCING_STATE_WRITE_FAILED')
  }

  function currentSnapshot(): StateSnapshot<S> {
    const current: StateSnapshot<S> = { version, state }
    if (projection !== undefined) current.projection = projection
    return current
  }

  /** Writes the current snapshot; one write at a time. */
  async function write(): Promise<void> {
    const writtenChanges = changes
    lastWriteStart = Date.now()
    // Started now; a backend that throws instead of rejecting rejects too.
    const thisWrite = (async () => backend.write(currentSnapshot()))()
    writing = thisWrite
    try {
      await thisWrite
      if (writtenChanges > savedChanges) savedChanges = writtenChanges
      failed = false
      reported = false
    } catch (error) {
      failed = true
      throw error
    } finally {
      writing = undefined
      schedule()
    }
  }

  async function flush(): Promise<void> {
    const target = changes
    while (savedChanges < target) {
      if (writing !== undefined) {
        // If it fails, the next turn writes again, and that failure rejects the flush.
        await writing.catch(() => {})
        continue
      }
      clearTimeout(timer)
      timer = undefined
      await write()
    }
  }

  const exitSaver: ExitSaver = {
    flushBeforeExit() {
      if (savedChanges === changes || exitFlushedChanges === changes) return
      exitFlushedChanges = changes
      flush().catch(reportBackgroundFailure)
    },
    writeOnExit() {
      if (savedChanges === changes || backend.writeSync === undefined) return
      try {
        backend.writeSync(currentSnapshot())
        savedChanges = changes
      } catch (error) {
        // Warnings are printed asynchronously, too late now.
        console.error(prefixed(`could not save the state store ${name} on exit: ${(error as Error)?.message ?? String(error)}`))
      }
    },
  }
  openStores.add(exitSaver)
  installExitHooks(environment)

  const store: StateStore<S> = {
    name,
    getState: () => state,
    getVersion: () => version,
    update(newState, newVersion) {
      if (closeCalled) throw new StateStoreClosedError(name)
      if (!Number.isInteger(newVersion)) {
        throw usageError(`${name}: update(state, version) needs an event index as version, got ${String(newVersion)}`)
      }
      if (newVersion <= version) throw new StaleVersionError(name, version, newVersion)
      state = newState
      version = newVersion
      changed()
    },
    flush,
    close() {
      closeCalled = true
      closing ??= flush().then(
        () => {
          clearTimeout(timer)
          timer = undefined
          openStores.delete(exitSaver)
        },
        (error: unknown) => {
          closing = undefined // a later close() tries again
          throw error
        },
      )
      return closing
    },
  }
  projectionSwitches.set(store, (newProjection) => {
    if (newProjection === projection) return
    if (closeCalled) throw new StateStoreClosedError(name)
    state = JSON.parse(initialText) as S
    version = -1
    projection = newProjection
    changed()
  })
  return store
}
