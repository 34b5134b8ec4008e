import { usageError } from '../core/errors.js'
import { committed, result, snapshotsStore, transaction } from './database.js'
import { parseSnapshot, serializeSnapshotInSlices } from '../core/snapshot-envelope.js'
import type { StateSnapshot, StateStoreBackend } from '../core/state-store-backend.js'

/**
 * A state-store backend that keeps a read model's snapshot in the page's
 * IndexedDB under `name` (database `tiny-event-sourcing`, object store
 * `snapshots`), as the same envelope text a state file holds:
 * `{"_version":N,"state":…}`. Each write replaces it in one transaction, so
 * a closed tab leaves either the old or the new snapshot; an unreadable one
 * is reported with `CorruptStateError`, never overwritten by a read. The
 * browser build exports it as `fsStoreBackend` too, so code written for
 * files runs unchanged.
 *
 * @throws (its `read()` rejects with) `CorruptStateError` (`STATE_CORRUPT`) for an unreadable snapshot;
 * `TinyEventSourcingError` `INDEXEDDB_UNAVAILABLE` where the page has no IndexedDB.
 * @example
 * const store = await initStateStore({ storeBackend: indexedDbStoreBackend('bookmarks', { byUrl: {} }) })
 */
export function indexedDbStoreBackend<S>(name: string, initialState?: S): StateStoreBackend<S> {
  if (typeof name !== 'string' || name === '') {
    throw usageError('fsStoreBackend() needs a name, e.g. "read-model.json"')
  }
  const backend: StateStoreBackend<S> = {
    name,
    async read(): Promise<StateSnapshot<S> | null> {
      const stored: unknown = await result((await transaction(snapshotsStore)).objectStore(snapshotsStore).get(name))
      // Anything but the envelope's text (written by hand in the developer tools) fails to parse and is reported.
      return stored === undefined ? null : parseSnapshot<S>(String(stored), name)
    },
    async write(snapshot: StateSnapshot<S>): Promise<void> {
      const pieces = await serializeSnapshotInSlices(snapshot)
      // One string, put in one transaction: IndexedDB copies it when it is put, in one step.
      const text = pieces.join('')
      const writing = await transaction(snapshotsStore, 'readwrite')
      writing.objectStore(snapshotsStore).put(text, name)
      // Commit at once, not at the end of the task: a page being left (see initStateStore) may not get there.
      writing.commit()
      await committed(writing)
    },
  }
  return initialState === undefined ? backend : { ...backend, initialState }
}
