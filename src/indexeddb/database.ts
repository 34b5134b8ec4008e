/**
 * The one IndexedDB database the browser build keeps everything in (version
 * 2; docs/browser.md shows the layout):
 * - logs in the object store `events`, key `[log name, index]`, value an
 *   `EventRecord`: the event's JSON line exactly as a log file would hold it,
 *   and beside it the log's name, the index and the event's `type`, which the
 *   index `type` (`[log, type, index]`) is built on;
 * - state snapshots in `snapshots`, key the store's name, value the envelope
 *   text `{"_version":N,"state":…}`.
 *
 * Version 1 (the browser build of earlier releases) stored the line alone as the value;
 * opening such a database migrates its records in place.
 *
 * Another tab may upgrade or delete the database at any time: the page's
 * connection is closed at once so it is not in the way, and the next use
 * opens a new one (a transaction is never kept across uses).
 */

import { TinyEventSourcingError } from '../core/errors.js'

/** Name of the IndexedDB database, as shown in the browser's developer tools. */
export const databaseName = 'tiny-event-sourcing'
/** The layout this copy of the library reads and writes; older databases are migrated to it when opened. */
export const databaseVersion = 2
export const eventsStore = 'events'
export const snapshotsStore = 'snapshots'
/** The index of `events` on `[log, type, index]`: a log's events of one type, in index order. */
export const typeIndex = 'type'

/** What `events` holds for one event. */
export interface EventRecord {
  /** The log's name, as in the key. */
  log: string
  /** The event's index, as in the key and the line. */
  index: number
  /** The event's `type` when it is a string; absent otherwise, which leaves the event out of the `type` index. */
  type?: string
  /** The stored line, `index` last, exactly as a log file holds it. */
  line: string
}

/** The record of `line`, event `index` of `log`; its type is read from the line itself. */
export function eventRecord(log: string, index: number, line: string): EventRecord {
  let type: unknown
  try {
    type = (JSON.parse(line) as { type?: unknown }).type
  } catch {
    // A damaged line (only a version 1 record can be one) is kept as it is: reading it reports it.
  }
  return typeof type === 'string' ? { log, index, type, line } : { log, index, line }
}

// One connection per page, shared by every log and state store; `undefined` once closed.
let connection: Promise<IDBDatabase> | undefined
/** The version a newer copy of the library upgraded the database to, as this page heard in its `versionchange`. */
let upgradedTo: number | undefined

/**
 * Creates what the versions after `oldVersion` add, in the upgrade's own
 * transaction: all of it is done, or none (a tab closed meanwhile leaves the
 * database at its old version, migrated again next time).
 */
function upgrade(db: IDBDatabase, upgrading: IDBTransaction, oldVersion: number): void {
  if (oldVersion < 1) {
    db.createObjectStore(eventsStore)
    db.createObjectStore(snapshotsStore)
  }
  if (oldVersion < 2) {
    const events = upgrading.objectStore(eventsStore)
    events.createIndex(typeIndex, ['log', 'type', 'index'])
    // Version 1's value was the line alone.
    const cursor = events.openCursor()
    cursor.onsuccess = () => {
      const at = cursor.result
      if (!at) return
      const [log, index] = at.primaryKey as [string, number]
      at.update(typeof at.value === 'string' ? eventRecord(log, index, at.value) : { log, index, line: at.value })
      at.continue()
    }
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
    request.onupgradeneeded = ({ oldVersion }) => upgrade(request.result, request.transaction!, oldVersion)
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
