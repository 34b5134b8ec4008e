/**
 * The contract suites themselves: they fail a storage that breaks the
 * contract, with messages that say how; they need a runner; and they run
 * under node:test from the built package, as users of node:test run them.
 */
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { type LogStorage, memoryStorage, memoryStoreBackend, type StateStoreBackend } from '../../src/index.js'
import { describeLogStorage, describeStateStoreBackend, type TestRunner } from '../../src/testing/index.js'
import { distEntry } from '../helpers/dist.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

const run = promisify(execFile)
afterAll(removeTempDirs)

/** A runner that collects the suite's tests, to run them here and look at how each ends. */
function collectingRunner(): { runner: TestRunner; results(): Promise<Map<string, unknown>> } {
  const tests: [string, () => Promise<void>][] = []
  let prefix = ''
  return {
    runner: {
      describe(name, body) {
        prefix = `${name} › `
        body()
      },
      it(name, test) {
        tests.push([prefix + name, test])
      },
    },
    async results() {
      const outcomes = new Map<string, unknown>()
      for (const [name, test] of tests)
        outcomes.set(
          name,
          await test().then(
            () => 'passed',
            (error: unknown) => error,
          ),
        )
      return outcomes
    },
  }
}

describe('describeLogStorage', () => {
  it('fails a storage that breaks the contract, saying what it did', async () => {
    // Off by one: resolves with the index after the first.
    const offByOne = (): LogStorage => {
      const storage = memoryStorage()
      return { ...storage, append: async (records, options) => (await storage.append(records, options)) + 1 }
    }
    const { runner, results } = collectingRunner()
    describeLogStorage('off by one', { create: offByOne }, runner)
    const outcomes = await results()
    expect(outcomes.get('LogStorage contract: off by one › opens empty and reads nothing')).toBe('passed')
    expect(outcomes.get('LogStorage contract: off by one › gives consecutive indices in the order given and resolves with the first')).toMatchObject({
      name: 'AssertionError',
      message: 'first append() of two records: the value: expected 0, got 1',
      actual: 1,
      expected: 0,
    })
  })

  it('fails a storage that lets a conflicting append through', async () => {
    const ignoresExpectations = (): LogStorage => {
      const storage = memoryStorage()
      return { ...storage, append: (records) => storage.append(records) }
    }
    const { runner, results } = collectingRunner()
    describeLogStorage('careless', { create: ignoresExpectations }, runner)
    const outcome = (await results()).get(
      'LogStorage contract: careless › with expectedLastIndex, appends only if the last index matches, and a conflict writes nothing',
    )
    expect((outcome as Error).message).toBe('append(…, { expectedLastIndex: -1 }) after one event: expected a rejection, but it resolved with 1')
  })

  it('takes describe and it from the globals when given no runner (jest, vitest with globals: true)', async () => {
    const { runner, results } = collectingRunner()
    const globals = globalThis as { describe?: unknown; it?: unknown }
    globals.describe = runner.describe
    globals.it = runner.it
    try {
      describeLogStorage('memory, through globals', { create: () => memoryStorage() })
    } finally {
      delete globals.describe
      delete globals.it
    }
    const outcomes = await results()
    expect(outcomes.size).toBeGreaterThanOrEqual(7)
    expect([...outcomes.values()].every((outcome) => outcome === 'passed')).toBe(true)
  })

  it('needs describe and it: from the runner passed, or as globals', () => {
    expect(() => describeLogStorage('memory', { create: () => memoryStorage() })).toThrow(
      expect.objectContaining({
        code: 'USAGE',
        message: expect.stringContaining("describeLogStorage() needs your test runner's describe and it: pass them as the last argument"),
      }),
    )
    expect(() => describeLogStorage('memory', { create: () => memoryStorage() }, {} as TestRunner)).toThrow(/takes your test runner's \{ describe, it \}/)
  })
})

describe('describeStateStoreBackend', () => {
  it('fails a backend that forgets the projection version', async () => {
    const forgetful = (initialState?: unknown): StateStoreBackend<unknown> => {
      const backend = memoryStoreBackend(initialState)
      return { ...backend, write: ({ _projection, ...snapshot }) => backend.write(snapshot) }
    }
    const { runner, results } = collectingRunner()
    describeStateStoreBackend('forgetful', { create: forgetful }, runner)
    const outcome = (await results()).get('StateStoreBackend contract: forgetful › keeps the projection version, number or string, unchanged')
    expect((outcome as Error).message).toMatch(/: \._projection: expected 2, but it is missing$/)
  })
})

describe('under node:test', () => {
  const testing = new URL('testing.js', distEntry()).href
  const library = distEntry()
  const script = (storage: string) => `
    import { describe, it } from 'node:test'
    import { memoryStorage, memoryStoreBackend } from ${JSON.stringify(library)}
    import { describeLogStorage, describeStateStoreBackend } from ${JSON.stringify(testing)}
    ${storage}
    describeLogStorage('memoryStorage', { create: makeStorage, reopen: (closed) => closed, follow: (writer) => writer }, { describe, it })
    describeStateStoreBackend('memoryStoreBackend', { create: (initialState) => memoryStoreBackend(initialState), reopen: (previous) => previous }, { describe, it })
  `

  it('runs both suites from the built package, every test passing', async () => {
    const file = join(await tempDir('node-test'), 'contracts.test.mjs')
    await writeFile(file, script('const makeStorage = () => memoryStorage()'))
    const { stdout } = await run(process.execPath, ['--test', '--test-reporter=tap', file])
    expect(stdout).toMatch(/^# pass 2[0-9]$/m)
    expect(stdout).toMatch(/^# fail 0$/m)
  })

  it('reports a failing storage with the message, actual and expected', async () => {
    const file = join(await tempDir('node-test'), 'broken.test.mjs')
    await writeFile(
      file,
      script(`const makeStorage = () => {
        const storage = memoryStorage()
        return { ...storage, append: async (records, options) => (await storage.append(records, options)) + 1 }
      }`),
    )
    const failed = await run(process.execPath, ['--test', '--test-reporter=tap', file]).then(
      () => undefined,
      (error: { code: number; stdout: string }) => error,
    )
    expect(failed?.code).toBe(1)
    expect(failed?.stdout).toContain('first append() of two records: the value: expected 0, got 1')
    expect(failed?.stdout).toMatch(/expected: 0\n\s+actual: 1/)
  })
})
