/**
 * Error classes thrown by tiny-event-sourcing. Each carries a stable `code`,
 * so callers can branch on `error.code` instead of parsing messages.
 */

import type { AppendCondition } from './filter.js'
import type { Indexed } from './log-storage.js'

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
