/**
 * The one IndexedDB database the browser build keeps everything in: logs in
 * the object store `events` (key `[log name, index]`, value the event's JSON
 * line exactly as a log file would hold it) and state snapshots in `snapshots`
 * (key the store's name, value the envelope `{"_version":N,"state":…}`).
 */

/** Name of the IndexedDB database, as shown in the browser's developer tools. */
import { TinyEventSourcingError } from '../core/errors.js'

export const databaseName = 'tiny-event-sourcing'
export const eventsStore = 'events'
export const snapshotsStore = 'snapshots'

// One connection per page, shared by every log and state store.
let connection: Promise<IDBDatabase> | undefined

/** Opens (once per page) the shared database, creating its object stores the first time. */
export function openDatabase(): Promise<IDBDatabase> {
  connection ??= new Promise<IDBDatabase>((resolve, reject) => {
    if (typeof indexedDB === 'undefined') throw new TinyEventSourcingError('INDEXEDDB_UNAVAILABLE', 'IndexedDB is not available here; use memoryStorage()')
    const request = indexedDB.open(databaseName, 1)
    request.onupgradeneeded = () => {
      const db = request.result
      db.createObjectStore(eventsStore)
      db.createObjectStore(snapshotsStore)
    }
    request.onsuccess = () => {
      const db = request.result
      // Let another tab delete or upgrade the database instead of blocking it; the next use reconnects.
      db.onversionchange = () => {
        db.close()
        connection = undefined
      }
      db.onclose = () => {
        connection = undefined
      }
      resolve(db)
    }
    request.onerror = () => {
      connection = undefined // the next use tries again
      reject(request.error)
    }
  })
  return connection
}

/** Resolves when the transaction commits; rejects with its error (`null` when aborted on purpose) when it aborts. */
export function committed(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve()
    // A failed request aborts its transaction: this covers every failure.
    transaction.onabort = () => reject(transaction.error)
  })
}

/** Resolves with the result of one request. */
export function result<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
}
