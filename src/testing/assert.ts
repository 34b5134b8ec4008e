/**
 * The few assertions the testing helpers make, with no test runner behind
 * them: a failure is a `TestAssertionError` carrying `actual` and
 * `expected`, which vitest and jest print with a diff and `node:test` prints
 * field by field. Values are compared as JSON values are (the only values a
 * log or a state store keeps), so a field set to `undefined` counts as absent.
 */

/** A failed expectation of the testing helpers. Its message says what differs, and where. */
export class TestAssertionError extends Error {
  override name = 'AssertionError'
  /** As Node's own assertion errors say, so runners that know them treat this one alike. */
  readonly code = 'ERR_ASSERTION'
  /** What was found. */
  readonly actual: unknown
  /** What was expected. */
  readonly expected: unknown
  /** Asks mocha-style reporters (and vitest) for a diff of `actual` against `expected`. */
  readonly showDiff: boolean

  constructor(message: string, details: { actual?: unknown; expected?: unknown } = {}) {
    super(message)
    this.actual = details.actual
    this.expected = details.expected
    this.showDiff = 'actual' in details && 'expected' in details
  }
}

/** A value in a message: JSON where it can be, cut short when long. */
export function describeValue(value: unknown): string {
  let text: string
  try {
    text = value === undefined ? 'undefined' : typeof value === 'bigint' ? `${value}n` : (JSON.stringify(value) ?? String(value))
  } catch {
    text = String(value) // a cycle
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}

function pathStep(key: string | number): string {
  return typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/**
 * Where `actual` first differs from `expected`, as `path: expected …, got …`,
 * or `undefined` when they are equal. Plain objects and arrays are compared
 * member by member; everything else with `Object.is` (NaN equals NaN).
 */
export function firstDifference(actual: unknown, expected: unknown, path = ''): string | undefined {
  const here = path || 'the value'
  if (Array.isArray(expected) || Array.isArray(actual)) {
    if (!Array.isArray(expected) || !Array.isArray(actual)) return `${here}: expected ${describeValue(expected)}, got ${describeValue(actual)}`
    for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
      const difference = firstDifference(actual[i], expected[i], path + pathStep(i))
      if (difference) return difference
    }
    if (actual.length !== expected.length) {
      return `${here}: expected ${expected.length} items, got ${actual.length} (${actual.length > expected.length ? `extra: ${describeValue(actual.slice(expected.length))}` : `missing: ${describeValue(expected.slice(actual.length))}`})`
    }
    return undefined
  }
  if (isPlainObject(expected) && isPlainObject(actual)) {
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)])
    for (const key of keys) {
      if (expected[key] === undefined && actual[key] === undefined) continue
      if (!(key in actual) || actual[key] === undefined) return `${path + pathStep(key)}: expected ${describeValue(expected[key])}, but it is missing`
      if (!(key in expected) || expected[key] === undefined) return `${path + pathStep(key)}: not expected, got ${describeValue(actual[key])}`
      const difference = firstDifference(actual[key], expected[key], path + pathStep(key))
      if (difference) return difference
    }
    return undefined
  }
  return Object.is(actual, expected) || (actual === 0 && expected === 0)
    ? undefined
    : `${here}: expected ${describeValue(expected)}, got ${describeValue(actual)}`
}

/** Fails with `what` and the first difference unless `actual` equals `expected` as JSON values. */
export function assertEqual(actual: unknown, expected: unknown, what: string): void {
  const difference = firstDifference(actual, expected)
  if (difference !== undefined) throw new TestAssertionError(`${what}: ${difference}`, { actual, expected })
}

/** Fails with `message` unless `condition` holds. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new TestAssertionError(message)
}

/** Fails unless every field of `expected` is found in `actual` with an equal value (other fields are not looked at). */
export function assertFields(actual: unknown, expected: Record<string, unknown>, what: string): void {
  const picked: Record<string, unknown> = {}
  for (const key of Object.keys(expected)) picked[key] = (actual as Record<string, unknown> | null)?.[key]
  assertEqual(picked, expected, what)
}

/** What `promise` rejects with; fails with `what` if it resolves instead. */
export async function rejection(promise: Promise<unknown>, what: string): Promise<unknown> {
  let value: unknown
  try {
    value = await promise
  } catch (error) {
    return error
  }
  throw new TestAssertionError(`${what}: expected a rejection, but it resolved with ${describeValue(value)}`)
}
