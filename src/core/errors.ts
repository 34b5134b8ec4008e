/**
 * Error classes thrown by tiny-event-sourcing. Each carries a stable `code`,
 * so callers can branch on `error.code` (or `isTinyEventSourcingError(error,
 * code)`) instead of parsing messages.
 */

import type { AppendCondition } from './filter.js'
import type { Indexed } from './log-storage.js'

/** What every message starts with, so a log line says where it came from. The one place it is written. */
const prefix = 'tiny-event-sourcing: '

/** `message` as this library says it: with its prefix. For warnings; errors get it from their constructors. */
export function prefixed(message: string): string {
  return prefix + message
}

/**
 * The stable codes of every error this library throws on purpose. Messages
 * may be reworded; codes are kept.
 *
 * - `USAGE`: the library was called wrongly (a missing option, a value of the wrong kind); a `TypeError`. Fix the call.
 * - `INVALID_EVENT`: an event JSON cannot carry faithfully; a `TypeError`. Nothing was written.
 * - `LOG_CLOSED`, `STATE_STORE_CLOSED`: used after `close()`.
 * - `LOG_LOCKED`: another writer holds the log.
 * - `LOG_CORRUPT`, `STATE_CORRUPT`: what is stored cannot be read as it is; it was left untouched.
 * - `LOG_REPLACED`: a follower's file was replaced, deleted or truncated by another program.
 * - `LOG_CHANGED`: a writer's file was changed by another program while the log had it open.
 * - `LOG_NOT_FOUND`: the log to follow (or a PostgreSQL log's row) does not exist.
 * - `LOG_WRITE_FAILED`: an earlier write failed and could not be undone; the log writes no more until opened again.
 * - `APPEND_CONFLICT`: `expectedLastIndex` or `condition` did not hold. Nothing was written.
 * - `UPCAST_FAILED`: `upcast` threw or returned a non-object.
 * - `STALE_VERSION`: `store.update()` with a version not above the store's.
 * - `STATE_AHEAD_OF_LOG`: a read model claims events its log does not have.
 * - `FILE_ACCESS`: a file or folder cannot be used as asked (a folder given for a file, permission denied…); Node's own code is in `systemCode`.
 * - `INDEXEDDB_UNAVAILABLE`: no IndexedDB where the browser build runs.
 * - `INDEXEDDB_UPGRADED`: a newer copy of the library (in another tab) upgraded the IndexedDB database past what this copy reads; reload the page.
 * - `DEPENDENCY_MISSING`: an optional peer dependency (`pg`) is not installed.
 * - `TARGET_NOT_EMPTY`, `COPY_FAILED`: a log copy (`importLog`, `exportLog`) refused its target, or stopped.
 * - `INDEXEDDB_UPGRADED`: a newer copy of the library upgraded the page's database; reload the page.
 * - `POSTGRES_SCHEMA_OUTDATED`: the tables need new columns this role may not add; open a log once as their owner.
 *
 * One code per member of `TinyEventSourcingErrors`, which gives each code its error.
 */
export type TinyEventSourcingErrorCode = keyof TinyEventSourcingErrors

/**
 * Marks this library's errors. `Symbol.for` gives every copy of the library
 * loaded in one program (its ESM and its CommonJS build, two versions) the
 * same symbol, so `isTinyEventSourcingError` recognises errors `instanceof`
 * cannot: each copy has classes of its own.
 */
const brand = Symbol.for('tiny-event-sourcing.error')

function branded(errorClass: { prototype: object }): void {
  Object.defineProperty(errorClass.prototype, brand, { value: true })
}

/**
 * Whether `error` was thrown by tiny-event-sourcing (any copy of it), and,
 * given a `code`, has that code. Unlike `instanceof`, this also holds when
 * the error comes from another copy of the package, such as its CommonJS
 * build loaded beside the ESM one.
 *
 * @example
 * try {
 *   await log.append(event, { expectedLastIndex })
 * } catch (error) {
 *   if (!isTinyEventSourcingError(error, 'APPEND_CONFLICT')) throw error
 *   console.log(`the log is at ${error.actualLastIndex} already`)
 * }
 */
export function isTinyEventSourcingError(error: unknown): error is AnyTinyEventSourcingError
/**
 * Whether `error` was thrown by tiny-event-sourcing (any copy of it) with
 * this `code`; narrows it to that code's error, so its own fields (such as
 * `AppendConflictError`'s `actualLastIndex`) are typed.
 *
 * @example
 * if (isTinyEventSourcingError(error, 'LOG_LOCKED')) console.error('another process writes this log; open it with readOnly: true')
 */
export function isTinyEventSourcingError<C extends TinyEventSourcingErrorCode>(error: unknown, code: C): error is TinyEventSourcingErrorFor<C>
export function isTinyEventSourcingError(error: unknown, code?: TinyEventSourcingErrorCode): boolean {
  if (typeof error !== 'object' || error === null || (error as { [brand]?: unknown })[brand] !== true) return false
  return code === undefined || (error as { code?: unknown }).code === code
}

/**
 * A mistake in how the library is called (a missing option, a value of the
 * wrong kind): a `TypeError` with code `USAGE`. One code for every such
 * mistake, since no program branches on them: the message names the value
 * at fault, and the fix is to change the call, never to retry.
 */
export class UsageError extends TypeError {
  override name = 'UsageError'
  readonly code = 'USAGE'

  constructor(message: string, options?: { cause?: unknown }) {
    super(prefix + message, options)
  }
}
branded(UsageError)

/** A `UsageError` saying `message`, with the library's prefix. */
export function usageError(message: string, options?: { cause?: unknown }): UsageError {
  return new UsageError(message, options)
}

/**
 * Base class of every error this library throws on purpose, except the two
 * `TypeError`s (`UsageError`, `InvalidEventError`).
 *
 * Each subclass names itself in a `name` field rather than relying on its
 * class name, which a CDN's minifier renames.
 */
export class TinyEventSourcingError extends Error {
  /** Stable, machine-readable identifier of the failure. */
  declare readonly code: TinyEventSourcingErrorCode

  constructor(code: TinyEventSourcingErrorCode, message: string, options?: { cause?: unknown }) {
    super(prefix + message, options)
    this.name = 'TinyEventSourcingError'
    this.code = code
  }
}
branded(TinyEventSourcingError)

/**
 * A file or folder cannot be used as asked: a folder given for a file, a file
 * where a folder should be, permission denied. The message names the path
 * and what to do; Node's error is the `cause`.
 */
export class FileAccessError extends TinyEventSourcingError {
  override name = 'FileAccessError'
  declare readonly code: 'FILE_ACCESS'
  /** Node's code for the failed call (`EISDIR`, `EACCES`, `ENOTDIR`…), when there was one. */
  declare readonly systemCode: string | undefined

  /** `systemCode` defaults to the `cause`'s `code`. */
  constructor(message: string, cause?: unknown, systemCode?: string) {
    super('FILE_ACCESS', message, cause === undefined ? undefined : { cause })
    const causeCode = (cause as { code?: unknown } | undefined)?.code
    this.systemCode = systemCode ?? (typeof causeCode === 'string' ? causeCode : undefined)
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
branded(InvalidEventError)

/** The log was closed: appends are refused and iterators have ended. */
export class LogClosedError extends TinyEventSourcingError {
  override name = 'LogClosedError'
  declare readonly code: 'LOG_CLOSED'
  constructor(name: string) {
    super('LOG_CLOSED', `the log ${name} is closed; open it again with initLog()`)
  }
}

/** Another writer holds the log. Open it with `readOnly: true` to follow it instead. */
export class LogLockedError extends TinyEventSourcingError {
  override name = 'LogLockedError'
  declare readonly code: 'LOG_LOCKED'
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
  declare readonly code: 'LOG_CORRUPT'
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
  declare readonly code: 'LOG_REPLACED'
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

/** What a storage found when it refused an append for its `condition`. */
export interface ConditionConflict {
  /** The condition the append carried. */
  readonly condition: AppendCondition
  /** The first stored event after `condition.after` that matches it, as stored (not upcast). */
  readonly event: Indexed<Record<string, unknown>>
  /** The log's last index when the append was refused (-1 for an empty log). */
  readonly actualLastIndex: number
}

/**
 * An append was refused and nothing was written: the log had moved on past
 * `append(event, { expectedLastIndex })`, or an event matching
 * `append(event, { condition })` had been appended after `condition.after`.
 * Read the new events and decide again.
 */
export class AppendConflictError extends TinyEventSourcingError {
  override name = 'AppendConflictError'
  declare readonly code: 'APPEND_CONFLICT'
  /** The last index the caller's decision was based on: its `expectedLastIndex`, or its `condition.after`. */
  declare readonly expectedLastIndex: number
  /** The log's actual last index (-1 for an empty log). */
  declare readonly actualLastIndex: number
  /** For a refused `condition`: the condition. */
  declare readonly condition: AppendCondition | undefined
  /** For a refused `condition`: the first event after `condition.after` that matches it, as stored. */
  declare readonly conflictingEvent: Indexed<Record<string, unknown>> | undefined

  constructor(name: string, expectedLastIndex: number, actualLastIndex: number)
  constructor(name: string, conflict: ConditionConflict)
  constructor(name: string, expected: number | ConditionConflict, actualLastIndex?: number) {
    if (typeof expected === 'number') {
      super('APPEND_CONFLICT', `append to ${name} expected last index ${expected}, found ${actualLastIndex}; read the new events and decide again`)
      this.expectedLastIndex = expected
      this.actualLastIndex = actualLastIndex!
      this.condition = undefined
      this.conflictingEvent = undefined
    } else {
      const { condition, event } = expected
      const what = typeof event.type === 'string' ? `event ${event.index} (${JSON.stringify(event.type)})` : `event ${event.index}`
      super(
        'APPEND_CONFLICT',
        `append to ${name} is refused: ${what} matches its condition ${describeCondition(condition)}; read the events after ${condition.after} and decide again`,
      )
      this.expectedLastIndex = condition.after
      this.actualLastIndex = expected.actualLastIndex
      this.condition = condition
      this.conflictingEvent = event
    }
  }
}

/** `{ types: ["bookmark"], where: {"url":"…"}, after: 3 }`, short enough for a message. */
function describeCondition({ types, where, after }: AppendCondition): string {
  const parts: string[] = []
  if (types !== undefined) parts.push(`types: ${JSON.stringify(types)}`)
  if (where !== undefined) {
    const text = JSON.stringify(where)
    parts.push(`where: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`)
  }
  parts.push(`after: ${after}`)
  return `{ ${parts.join(', ')} }`
}

/** `initLog({ upcast })` threw for a stored event, or returned something other than an object. The log file is unchanged. */
export class UpcastError extends TinyEventSourcingError {
  override name = 'UpcastError'
  declare readonly code: 'UPCAST_FAILED'
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
  declare readonly code: 'STALE_VERSION'
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
  declare readonly code: 'STATE_CORRUPT'
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
  declare readonly code: 'STATE_STORE_CLOSED'
  constructor(name: string) {
    super('STATE_STORE_CLOSED', `the state store ${name} is closed; open it again with initStateStore()`)
  }
}

/** A read model claims to reflect events the log does not have: the state and the log do not belong together. */
export class StateAheadOfLogError extends TinyEventSourcingError {
  override name = 'StateAheadOfLogError'
  declare readonly code: 'STATE_AHEAD_OF_LOG'
  constructor(storeName: string, version: number, logName: string, logLength: number) {
    super(
      'STATE_AHEAD_OF_LOG',
      `the state store ${storeName} is at version ${version}, but the log ${logName} ${logLength ? `ends at index ${logLength - 1}` : 'is empty'}; ` +
        'delete the state to rebuild it, or point the store at its own log',
    )
  }
}

/** The error thrown with `code` (a plain `TinyEventSourcingError` for the codes without a class of their own). */
export interface TinyEventSourcingErrors {
  USAGE: UsageError
  INVALID_EVENT: InvalidEventError
  LOG_CLOSED: LogClosedError
  LOG_LOCKED: LogLockedError
  LOG_CORRUPT: CorruptLogError
  LOG_REPLACED: LogReplacedError
  LOG_CHANGED: TinyEventSourcingError & { readonly code: 'LOG_CHANGED' }
  LOG_NOT_FOUND: TinyEventSourcingError & { readonly code: 'LOG_NOT_FOUND' }
  LOG_WRITE_FAILED: TinyEventSourcingError & { readonly code: 'LOG_WRITE_FAILED' }
  APPEND_CONFLICT: AppendConflictError
  UPCAST_FAILED: UpcastError
  STALE_VERSION: StaleVersionError
  STATE_CORRUPT: CorruptStateError
  STATE_STORE_CLOSED: StateStoreClosedError
  STATE_AHEAD_OF_LOG: StateAheadOfLogError
  FILE_ACCESS: FileAccessError
  INDEXEDDB_UNAVAILABLE: TinyEventSourcingError & { readonly code: 'INDEXEDDB_UNAVAILABLE' }
  INDEXEDDB_UPGRADED: TinyEventSourcingError & { readonly code: 'INDEXEDDB_UPGRADED' }
  DEPENDENCY_MISSING: TinyEventSourcingError & { readonly code: 'DEPENDENCY_MISSING' }
  TARGET_NOT_EMPTY: TinyEventSourcingError & { readonly code: 'TARGET_NOT_EMPTY' }
  COPY_FAILED: TinyEventSourcingError & { readonly code: 'COPY_FAILED' }
  POSTGRES_SCHEMA_OUTDATED: TinyEventSourcingError & { readonly code: 'POSTGRES_SCHEMA_OUTDATED' }
}

/** The error a given code comes with. */
export type TinyEventSourcingErrorFor<C extends TinyEventSourcingErrorCode> = TinyEventSourcingErrors[C]

/** Any error this library throws on purpose. */
export type AnyTinyEventSourcingError = TinyEventSourcingErrors[TinyEventSourcingErrorCode]
