/**
 * Model-based tests of state stores: fast-check generates random sequences of
 * updates, refused (stale) updates, flushes, pauses, peeks at what is stored,
 * and close + reopen, under several write intervals. The model is the latest
 * state and version, the states of every version, and the last version a
 * resolved flush promised. Whatever is stored at any moment must be one of
 * the states the store had, at that state's version, never older than the
 * last flush.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fsStoreBackend, initStateStore, memoryStoreBackend, StaleVersionError, type StateSnapshot, type StateStoreBackend } from '../../src/index.js'
import { hasNegativeZero, rounds, sleep, tempDir } from './harness.js'

type State = { items: unknown[]; label: string }

const initialState: State = { items: [], label: 'initial' }

type Command =
  | { kind: 'update'; step: number; item: unknown; label: string }
  | { kind: 'stale'; back: number }
  | { kind: 'flush' }
  | { kind: 'peek' }
  | { kind: 'wait'; ms: number }
  | { kind: 'reopen' }

const jsonItem = fc.jsonValue({ maxDepth: 2 }).filter((value) => !hasNegativeZero(value))

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({ step: fc.integer({ min: 1, max: 5 }), item: jsonItem, label: fc.string({ unit: 'grapheme', maxLength: 12 }) })
      .map((c) => ({ kind: 'update' as const, ...c })),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((back) => ({ kind: 'stale' as const, back })) },
  { weight: 2, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'peek' as const }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 30 }).map((ms) => ({ kind: 'wait' as const, ms })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
)

interface Target {
  backend: StateStoreBackend<State>
  /** What is stored right now, read behind the store's back. */
  peek(): Promise<StateSnapshot<State> | null>
}

async function runModel(target: Target, writeInterval: number, commands: Command[]): Promise<void> {
  const open = () => initStateStore<State>({ storeBackend: target.backend, initialState, writeInterval })
  let store = await open()
  let version = -1
  let state: State = initialState
  const history = new Map<number, State>([[-1, initialState]])
  let flushed = -1

  const expectStoredIsAStateItHad = async () => {
    const stored = await target.peek()
    if (stored === null) {
      expect(flushed, 'nothing stored after a flush of an updated store resolved').toBe(-1)
      return
    }
    expect(stored._version).toBeGreaterThanOrEqual(flushed)
    expect(stored._version).toBeLessThanOrEqual(version)
    expect(stored.state).toEqual(history.get(stored._version))
  }

  for (const step of commands) {
    switch (step.kind) {
      case 'update': {
        const next: State = { items: [...state.items.slice(-3), step.item], label: step.label }
        version += step.step
        state = next
        history.set(version, next)
        store.update(next, version)
        break
      }
      case 'stale':
        expect(() => store.update({ items: [], label: 'stale' }, version - step.back)).toThrow(StaleVersionError)
        break
      case 'flush':
        await store.flush()
        flushed = version
        // A store that was never updated has nothing to write.
        if (version >= 0) expect(await target.peek()).toEqual({ _version: version, state })
        break
      case 'peek':
        await expectStoredIsAStateItHad()
        break
      case 'wait':
        // Lets background writes start (and, with the next update, be overtaken).
        await sleep(step.ms)
        break
      case 'reopen':
        await store.close()
        flushed = version
        if (version >= 0) expect(await target.peek()).toEqual({ _version: version, state })
        store = await open()
        break
    }
    // The store answers from memory with exactly the latest update, refused ones changing nothing.
    expect(store.getVersion()).toBe(version)
    expect(store.getState()).toEqual(state)
  }
  await store.close()
  if (version >= 0) expect(await target.peek()).toEqual({ _version: version, state })
  const reopened = await open()
  expect(reopened.getVersion()).toBe(version)
  expect(reopened.getState()).toEqual(state)
  await reopened.close()
}

describe('state stores against a model', () => {
  const runs = rounds(25, 400)
  const settings = { numRuns: runs, endOnFailure: true }

  it(
    `agree with the model over ${runs} random sequences (fsStoreBackend, the file read directly)`,
    async () => {
      const dir = await tempDir('state-model')
      let run = 0
      await fc.assert(
        fc.asyncProperty(fc.array(command, { maxLength: 25 }), fc.constantFrom(0, 5, 40), async (commands, writeInterval) => {
          const filename = join(dir, `state-${run++}.json`)
          const target: Target = {
            backend: fsStoreBackend<State>(filename),
            async peek() {
              let text: string
              try {
                text = await readFile(filename, 'utf8')
              } catch (error) {
                if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
                throw error
              }
              // Read raw, so a half-written file would fail here.
              const { _version, state } = JSON.parse(text) as { _version: number; state: State }
              return { _version, state }
            },
          }
          await runModel(target, writeInterval, commands)
        }),
        settings,
      )
    },
    rounds(180_000, 1_800_000),
  )

  it(
    `agree with the model over ${runs} random sequences (memoryStoreBackend)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(command, { maxLength: 25 }), fc.constantFrom(0, 5, 40), async (commands, writeInterval) => {
          const backend = memoryStoreBackend<State>()
          await runModel({ backend, peek: () => backend.read() }, writeInterval, commands)
        }),
        settings,
      )
    },
    rounds(180_000, 1_800_000),
  )
})
