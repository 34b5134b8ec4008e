/**
 * The one IndexedDB database the browser build keeps everything in: logs in
 * the object store `events` (key `[log name, index]`, value the event's JSON
 * line exactly as a log file would hold it) and state snapshots in `snapshots`
 * (key the store's name, value the envelope `{"_version":N,"state":…}`).
 *
 * Another tab may upgrade or delete the database at any time: the page's
 * connection is closed at once so it is not in the way, and the next use
 * opens a new one (a transaction is never kept across uses).
 */

import { TinyEventSourcingError } from '../core/errors.js'

/** Name of the IndexedDB database, as shown in the browser's developer tools. */
export const databaseName = 'tiny-event-sourcing'
/** The layout this copy of the library reads and writes; older databases are migrated to it when opened. */
export const databaseVersion = 1
export const eventsStore = 'events'
export const snapshotsStore = 'snapshots'

// One connection per page, shared by every log and state store; `undefined` once closed.
let connection: Promise<IDBDatabase> | undefined
/** The version a newer copy of the library upgraded the database to, as this page heard in its `versionchange`. */
let upgradedTo: number | undefined

/** Creates what versions after `oldVersion` add, in the upgrade's own transaction. */
function upgrade(db: IDBDatabase, oldVersion: number): void {
  if (oldVersion < 1) {
    db.createObjectStore(eventsStore)
    db.createObjectStore(snapshotsStore)
  }
}

function upgradedError(): TinyEventSourcingError {
  const version = upgradedTo === undefined ? `a version above ${databaseVersion}` : `version ${upgradedTo}`
  return new TinyEventSourcingError(
    'INDEXEDDB_UPGRADED',
    `the IndexedDB database ${databaseName} was upgraded to ${version} by a newer copy of tiny-event-sourcing (another tab of this site), ` +
      `and this copy reads version ${databaseVersion} only; reload the page to run the newer copy`,
  )
}

/**
 * Opens the shared database, or hands out the page's open connection: call it
 * for each use rather than keeping what it resolves with, since another tab's
 * upgrade or deletion closes the connection. Creates or migrates the object
 * stores the first time.
 * @throws {TinyEventSourcingError} `INDEXEDDB_UPGRADED` when a newer copy of the library upgraded the database; `INDEXEDDB_UNAVAILABLE` without IndexedDB.
 */
export function openDatabase(): Promise<IDBDatabase> {
  connection ??= new Promise<IDBDatabase>((resolve, reject) => {
    if (typeof indexedDB === 'undefined') throw new TinyEventSourcingError('INDEXEDDB_UNAVAILABLE', 'IndexedDB is not available here; use memoryStorage()')
    const request = indexedDB.open(databaseName, databaseVersion)
    request.onupgradeneeded = ({ oldVersion }) => upgrade(request.result, oldVersion)
    request.onsuccess = () => {
      const db = request.result
      const forget = () => {
        if (connection === opened) connection = undefined
      }
      // Let another tab delete or upgrade the database instead of blocking it;
      // transactions under way still complete, and the next use reconnects.
      db.onversionchange = ({ newVersion }) => {
        if (newVersion !== null && newVersion > databaseVersion) upgradedTo = newVersion
        forget()
        db.close()
      }
      // Closed by the browser (site data cleared, disk trouble): the next use reconnects too.
      db.onclose = forget
      resolve(db)
    }
    request.onerror = () => {
      connection = undefined // the next use tries again
      reject(request.error?.name === 'VersionError' ? upgradedError() : request.error)
    }
  })
  const opened = connection
  return opened
}

/**
 * A new transaction on the shared database. The connection it was handed may
 * have closed just before (another tab's `versionchange` arrived in between):
 * then one more try on a new connection.
 * @throws {TinyEventSourcingError} as `openDatabase` does.
 */
export async function transaction(stores: string, mode?: IDBTransactionMode, options?: IDBTransactionOptions): Promise<IDBTransaction> {
  try {
    return (await openDatabase()).transaction(stores, mode, options)
  } catch (error) {
    if ((error as DOMException | undefined)?.name !== 'InvalidStateError') throw error
    return (await openDatabase()).transaction(stores, mode, options)
  }
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
