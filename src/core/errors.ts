/**
 * Error classes thrown by tiny-event-sourcing. Each carries a stable `code`,
 * so callers can branch on `error.code` instead of parsing messages.
 */

/** What every message starts with, so a log line says where it came from. */
const prefix = 'tiny-event-sourcing: '

/**
 * A mistake in how the library is called (a missing option, a value of the
 * wrong kind): a `TypeError`, with the library's prefix on `message`.
 */
export function usageError(message: string, options?: { cause?: unknown }): TypeError {
  return new TypeError(prefix + message, options)
}

/**
 * Base class of every error this library throws on purpose.
 *
 * Each subclass names itself in a `name` field rather than relying on its
 * class name, which a CDN's minifier renames.
 */
export class TinyEventSourcingError extends Error {
  /** Stable, machine-readable identifier of the failure. */
  declare readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(prefix + message, options)
    this.name = new.target.name
    this.code = code
  }
}

/** An event that JSON cannot carry faithfully (not a plain object, a Date, a BigInt, a cycle…). Nothing was written. */
export class InvalidEventError extends TypeError {
  override name = 'InvalidEventError'
  readonly code = 'INVALID_EVENT'

  constructor(message: string) {
    super(prefix + message)
  }
}

/** The log was closed: appends are refused and iterators have ended. */
export class LogClosedError extends TinyEventSourcingError {
  override name = 'LogClosedError'
  constructor(name: string) {
    super('LOG_CLOSED', `the log ${name} is closed; open it again with initLog()`)
  }
}

/** Another writer holds the log. Open it with `readOnly: true` to follow it instead. */
export class LogLockedError extends TinyEventSourcingError {
  override name = 'LogLockedError'
  /** The lock file that is held. */
  declare readonly lockFile: string

  constructor(lockFile: string, message: string) {
    super('LOG_LOCKED', message)
    this.lockFile = lockFile
  }
}

/** A stored log that cannot be read as it is. The file was not modified. */
export class CorruptLogError extends TinyEventSourcingError {
  override name = 'CorruptLogError'
  /** The log file (or storage name) at fault. */
  declare readonly filename: string
  /** 1-based line number at fault, when known. */
  declare readonly line: number | undefined

  constructor(filename: string, line: number | undefined, problem: string, remedy: string) {
    const where = line === undefined ? filename : `${filename}:${line}`
    super('LOG_CORRUPT', `${where}: ${problem}. ${remedy}`)
    this.filename = filename
    this.line = line
  }
}

/**
 * A read-only follower's file was replaced (renamed over, or deleted and
 * created again), deleted or truncated by another program, so the events
 * written next are not in the file it reads. Its iterators end with this
 * error, and later ones start with it; open the file again to follow it.
 */
export class LogReplacedError extends TinyEventSourcingError {
  override name = 'LogReplacedError'
  /** The followed log file. */
  declare readonly filename: string

  constructor(filename: string, happened: string, seen: number) {
    super(
      'LOG_REPLACED',
      `${filename} ${happened} after this follower had seen ${seen} events, so it cannot see what is written next; ` +
        'open it again with initLog({ filename, readOnly: true }) to follow the new file',
    )
    this.filename = filename
  }
}

/** `append(event, { expectedLastIndex })` found that the log had moved on. Nothing was written. */
export class AppendConflictError extends TinyEventSourcingError {
  override name = 'AppendConflictError'
  /** The last index the caller expected. */
  declare readonly expectedLastIndex: number
  /** The log's actual last index (-1 for an empty log). */
  declare readonly actualLastIndex: number

  constructor(name: string, expectedLastIndex: number, actualLastIndex: number) {
    super('APPEND_CONFLICT', `append to ${name} expected last index ${expectedLastIndex}, found ${actualLastIndex}; read the new events and decide again`)
    this.expectedLastIndex = expectedLastIndex
    this.actualLastIndex = actualLastIndex
  }
}

/** `initLog({ upcast })` threw for a stored event, or returned something other than an object. The log file is unchanged. */
export class UpcastError extends TinyEventSourcingError {
  override name = 'UpcastError'
  /** Index of the stored event being upcast. */
  declare readonly index: number

  constructor(name: string, index: number, problem: string, options?: { cause?: unknown }) {
    super('UPCAST_FAILED', `upcast of event ${index} of ${name} ${problem}; fix the upcast function (the log is unchanged)`, options)
    this.index = index
  }
}

/** `store.update(state, version)` was given a version that is not higher than the store's. The store kept its state. */
export class StaleVersionError extends TinyEventSourcingError {
  override name = 'StaleVersionError'
  /** The store's version when the update was refused. */
  declare readonly currentVersion: number
  /** The version the update asked for. */
  declare readonly attemptedVersion: number

  constructor(name: string, currentVersion: number, attemptedVersion: number) {
    super(
      'STALE_VERSION',
      `the state store ${name} is at version ${currentVersion}: update(state, ${attemptedVersion}) refused; ` +
        'skip events with event.index <= store.getVersion()',
    )
    this.currentVersion = currentVersion
    this.attemptedVersion = attemptedVersion
  }
}

/** A stored state snapshot that cannot be read as it is. It was not modified or overwritten. */
export class CorruptStateError extends TinyEventSourcingError {
  override name = 'CorruptStateError'
  /** The state file (or backend name) at fault. */
  declare readonly filename: string

  constructor(filename: string, problem: string, options?: { cause?: unknown }) {
    super('STATE_CORRUPT', `${filename}: ${problem}. Left as it is: fix it, or delete it to rebuild from the log`, options)
    this.filename = filename
  }
}

/** The state store was closed: updates are refused. */
export class StateStoreClosedError extends TinyEventSourcingError {
  override name = 'StateStoreClosedError'
  constructor(name: string) {
    super('STATE_STORE_CLOSED', `the state store ${name} is closed; open it again with initStateStore()`)
  }
}

/** A read model claims to reflect events the log does not have: the state and the log do not belong together. */
export class StateAheadOfLogError extends TinyEventSourcingError {
  override name = 'StateAheadOfLogError'
  constructor(storeName: string, version: number, logName: string, logLength: number) {
    super(
      'STATE_AHEAD_OF_LOG',
      `the state store ${storeName} is at version ${version}, but the log ${logName} ${logLength ? `ends at index ${logLength - 1}` : 'is empty'}; ` +
        'delete the state to rebuild it, or point the store at its own log',
    )
  }
}
