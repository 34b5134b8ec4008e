import { committed, openDatabase, result, snapshotsStore } from '../indexeddb.js'
import type { StateSnapshot, StateStoreBackend } from './types.js'

/**
 * A state-store backend that keeps a read model's snapshot in the page's
 * IndexedDB under `name`, as the same envelope text a state file holds:
 * `{"_version":N,"state":…}`. Each write replaces it in one transaction, so a
 * closed tab leaves either the old or the new snapshot. The browser build
 * exports it as `fsStoreBackend`, so code written for files runs unchanged.
 */
export function indexedDbStoreBackend<S>(name: string, initialState?: S): StateStoreBackend<S> {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`tiny-event-sourcing: a state store backend needs a non-empty name, got ${String(name)}`)
  }
  return {
    name,
    ...(initialState === undefined ? {} : { initialState }),
    async read() {
      const db = await openDatabase()
      const stored = await result(db.transaction(snapshotsStore).objectStore(snapshotsStore).get(name))
      if (stored === undefined) return null
      return parseEnvelope<S>(name, stored)
    },
    async write(snapshot: StateSnapshot<S>) {
      const text = JSON.stringify({ _version: snapshot.version, state: snapshot.state })
      const db = await openDatabase()
      const transaction = db.transaction(snapshotsStore, 'readwrite')
      transaction.objectStore(snapshotsStore).put(text, name)
      await committed(transaction)
    },
  }
}

function parseEnvelope<S>(name: string, stored: unknown): StateSnapshot<S> {
  const where = `tiny-event-sourcing: the state snapshot ${name} in IndexedDB (database "tiny-event-sourcing", object store "snapshots")`
  const remedy = 'delete that record to rebuild the read model from the log; nothing was changed'
  let envelope: unknown
  try {
    envelope = typeof stored === 'string' ? JSON.parse(stored) : undefined
  } catch {
    // Reported below.
  }
  if (typeof envelope !== 'object' || envelope === null || !('state' in envelope)) {
    throw new Error(`${where} is not a JSON envelope {"_version": N, "state": …}: ${String(stored).slice(0, 80)}; ${remedy}`)
  }
  const version = (envelope as { _version?: unknown })._version
  if (!Number.isInteger(version) || (version as number) < -1) {
    throw new Error(`${where} has "_version": ${JSON.stringify(version)}, which is not an event index (an integer of -1 or more); ${remedy}`)
  }
  return { version: version as number, state: (envelope as { state: S }).state }
}
