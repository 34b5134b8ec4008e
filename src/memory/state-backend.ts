import { parseSnapshot, serializeSnapshot, serializeSnapshotInSlices } from '../core/snapshot-envelope.js'
import type { StateSnapshot, StateStoreBackend } from '../core/state-store-backend.js'

/** Options of `memoryStoreBackend`. */
export interface MemoryStoreBackendOptions {
  /**
   * Name used in error messages.
   * @default "memory"
   */
  name?: string
}

/**
 * A state-store backend that keeps the snapshot in memory, for tests and
 * throwaway prototypes; it is also the reference implementation of
 * `StateStoreBackend`. It keeps the envelope's JSON text, as a file would, so
 * what is read back never shares objects with what was written. The snapshot
 * outlives the stores opened on it.
 *
 * @throws nothing: it reads back exactly the text it wrote.
 * @example
 * const store = await initStateStore({ storeBackend: memoryStoreBackend({ byUrl: {} }, { name: 'bookmarks' }) })
 */
export function memoryStoreBackend<S>(initialState?: S, options: MemoryStoreBackendOptions = {}): StateStoreBackend<S> {
  const name = options.name ?? 'memory'
  /** The envelope's text, in the pieces it was written in: joined when read. */
  let stored: readonly string[] | undefined
  const backend: StateStoreBackend<S> = {
    name,
    async read(): Promise<StateSnapshot<S> | null> {
      return stored === undefined ? null : parseSnapshot<S>(stored.join(''), name)
    },
    async write(snapshot: StateSnapshot<S>): Promise<void> {
      stored = await serializeSnapshotInSlices(snapshot)
    },
    writeSync(snapshot: StateSnapshot<S>): void {
      stored = [serializeSnapshot(snapshot)]
    },
  }
  return initialState === undefined ? backend : { ...backend, initialState }
}
