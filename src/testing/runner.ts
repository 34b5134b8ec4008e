/**
 * The contract suites declare their tests through the runner the user
 * passes (`describe` and `it` from vitest, `node:test`, jest…), or else
 * through the global `describe` and `it` those runners may define, so this
 * package imports no test runner.
 */
import { usageError } from '../core/errors.js'

/** The two functions of a test runner the suites use: vitest's, jest's, mocha's and `node:test`'s all fit. */
export interface TestRunner {
  describe(name: string, body: () => void): unknown
  it(name: string, test: () => Promise<void>): unknown
}

/** `runner`, or the globals `describe` and `it`, or a usage error saying what to pass. */
export function runnerFor(runner: TestRunner | undefined, call: string): TestRunner {
  if (runner !== undefined) {
    if (typeof runner?.describe !== 'function' || typeof runner?.it !== 'function') {
      throw usageError(`${call} takes your test runner's { describe, it }, e.g. import { describe, it } from 'node:test'; got ${String(runner)}`)
    }
    return runner
  }
  const globals = globalThis as { describe?: unknown; it?: unknown }
  if (typeof globals.describe === 'function' && typeof globals.it === 'function') return globals as TestRunner
  throw usageError(
    `${call} needs your test runner's describe and it: pass them as the last argument, e.g. import { describe, it } from 'vitest' (or 'node:test'), ` +
      'or run it where they are globals (jest, vitest with globals: true)',
  )
}
