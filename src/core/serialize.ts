import { InvalidEventError } from './errors.js'

const objectPrototype = Object.prototype

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value)
  return prototype === objectPrototype || prototype === null
}

function withArticle(noun: string): string {
  return `${/^[aeio]/i.test(noun) ? 'an' : 'a'} ${noun}`
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name
    return withArticle(typeof name === 'string' && name !== '' ? name : 'non-plain object')
  }
  if (typeof value === 'number') return String(value)
  return withArticle(typeof value)
}

/** `event.key` for identifier keys, `event["some key"]` otherwise, so the path can be pasted into code. */
function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

/** `event.a[2].b`: the path of a value, from the keys that lead to it. */
function pathOf(keys: (string | number)[], root = 'event'): string {
  let path = root
  for (const key of keys) path = typeof key === 'number' ? `${path}[${key}]` : childPath(path, key)
  return path
}

/**
 * What JSON would silently change in `value`, if anything: after a round trip
 * through the log an event must read back exactly as it was appended.
 * `undefined` object properties are allowed (JSON drops them, and a missing
 * property reads back as `undefined`). On a problem, `keys` is left holding
 * the path to the value at fault; it is turned into text only then, so the
 * walk allocates nothing for a valid event.
 */
export function problemIn(value: unknown, keys: (string | number)[], ancestors: object[]): string | undefined {
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return undefined
  if (typeof value === 'number') {
    return Number.isFinite(value) ? undefined : `is ${value}, which JSON stores as null; use a finite number or null`
  }
  if (typeof value !== 'object' || !(Array.isArray(value) || isPlainObject(value))) {
    const hint = value instanceof Date ? ' (store date.toISOString())' : ''
    return `is ${describe(value)}, which JSON cannot store${hint}; use plain objects, arrays, strings, numbers, booleans and null`
  }
  if (ancestors.includes(value)) return 'refers back to an enclosing object: events cannot be circular'
  ancestors.push(value)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i]
      if (typeof child === 'string') continue
      keys.push(i)
      // Unlike an object property, an array slot JSON cannot drop: it becomes null.
      const problem = child === undefined ? 'is undefined, which JSON stores as null; use null' : problemIn(child, keys, ancestors)
      if (problem) return problem
      keys.pop()
    }
  } else {
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue
      const child = (value as Record<string, unknown>)[key]
      if (child === undefined || typeof child === 'string') continue
      keys.push(key)
      const problem = problemIn(child, keys, ancestors)
      if (problem) return problem
      keys.pop()
    }
  }
  ancestors.pop()
  return undefined
}

/**
 * Turns an event into the record a storage keeps: the JSON text of a plain
 * object without `index` (the storage assigns it). Throws `InvalidEventError`
 * before anything is queued, so a bad event uses up no index; also for an
 * event with a `_meta` field of its own, the name the log's metadata takes.
 */
export function serializeEvent(event: unknown): string {
  if (typeof event !== 'object' || event === null || Array.isArray(event) || !isPlainObject(event)) {
    throw new InvalidEventError(`an event must be a plain object such as { type: 'bookmark' }, got ${describe(event)}`)
  }
  const keys: (string | number)[] = []
  const problem = problemIn(event, keys, [])
  if (problem) throw new InvalidEventError(`${pathOf(keys)} ${problem}`)
  if ((event as { _meta?: unknown })._meta !== undefined && Object.hasOwn(event, '_meta')) {
    throw new InvalidEventError(
      'event._meta is where the log keeps its own metadata (at, causedBy, correlationId): rename that field, give causedBy and correlationId as append options, or, to append a copy of a stored event, leave it out: const { index, _meta, ...event } = stored',
    )
  }
  if (!Object.hasOwn(event, 'index')) return JSON.stringify(event)
  const { index: _ignored, ...withoutIndex } = event as Record<string, unknown>
  return JSON.stringify(withoutIndex)
}

/** Adds `"index": n` as the last field of a record, giving the same text as `JSON.stringify({ ...event, index })`. */
export function withIndex(record: string, index: number): string {
  return record.length === 2 ? `{"index":${index}}` : `${record.slice(0, -1)},"index":${index}}`
}

/** What JSON would change in `value`, named by its path from `root` (`where.url is undefined, …`), or `undefined` if nothing. */
export function jsonProblem(value: unknown, root: string): string | undefined {
  const keys: (string | number)[] = []
  const problem = value === undefined ? 'is undefined, which JSON cannot store' : problemIn(value, keys, [])
  return problem && `${pathOf(keys, root)} ${problem}`
}
