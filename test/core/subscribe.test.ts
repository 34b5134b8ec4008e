import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import {
  StateAheadOfLogError,
  catchupSubscribe,
  fsStoreBackend,
  initLog,
  initStateStore,
  memoryStorage,
  memoryStoreBackend,
  project,
  type Indexed,
} from '../../src/index.js'
import { poll } from '../helpers/poll.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterAll(removeTempDirs)

type Counted = { type: 'counted'; n: number } | { type: 'noise' }
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function logWith(count: number) {
  const log = await initLog<Counted>({ storage: memoryStorage() })
  for (let n = 0; n < count; n++) await log.append({ type: 'counted', n })
  return log
}

/** Waits until `condition()` holds; the test timeout bounds it. */
const until = (condition: () => boolean) =>
  poll(
    async () => condition(),
    (holds) => holds,
  )

const sum = (state: { total: number; count: number }, event: Indexed<Counted>) =>
  event.type === 'counted' ? { total: state.total + event.n, count: state.count + 1 } : state

describe('catchupSubscribe', () => {
  it('delivers stored events, then new ones, in order, and resolves when the log closes', async () => {
    const log = await logWith(3)
    const seen: number[] = []
    const done = catchupSubscribe(log.events(), (event) => {
      seen.push(event.index)
    })
    await until(() => seen.length === 3)
    await log.append({ type: 'counted', n: 3 })
    await log.append({ type: 'counted', n: 4 })
    await until(() => seen.length === 5)
    await log.close()
    await done
    expect(seen).toEqual([0, 1, 2, 3, 4])
  })

  it('awaits each handler before the next event', async () => {
    const log = await logWith(5)
    const order: string[] = []
    const done = catchupSubscribe(log.events(), async (event) => {
      order.push(`start ${event.index}`)
      await sleep(5)
      order.push(`end ${event.index}`)
    })
    await until(() => order.length === 10)
    await log.close()
    await done
    expect(order).toEqual([0, 1, 2, 3, 4].flatMap((n) => [`start ${n}`, `end ${n}`]))
  })

  it("rejects with the handler's error and handles nothing after it", async () => {
    const log = await logWith(5)
    const seen: number[] = []
    const failure = new Error('handler broke')
    const done = catchupSubscribe(log.events(), (event) => {
      seen.push(event.index)
      if (event.index === 2) throw failure
    })
    await expect(done).rejects.toBe(failure)
    await log.append({ type: 'counted', n: 5 })
    await sleep(20)
    expect(seen).toEqual([0, 1, 2])
    await log.close()
  })

  it("rejects with the handler's error even when ending the iterator fails too", async () => {
    const failure = new Error('handler broke')
    const events: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => ({ done: false, value: 1 }),
        return: async () => {
          throw new Error('return broke')
        },
      }),
    }
    await expect(
      catchupSubscribe(events, () => {
        throw failure
      }),
    ).rejects.toBe(failure)
  })

  it('resolves when its signal aborts while waiting for events', async () => {
    const log = await logWith(2)
    const controller = new AbortController()
    const seen: number[] = []
    const done = catchupSubscribe(log.events(), (event) => void seen.push(event.index), { signal: controller.signal })
    await until(() => seen.length === 2)
    controller.abort()
    await done
    await log.append({ type: 'counted', n: 2 })
    await sleep(20)
    expect(seen).toEqual([0, 1])
    await log.close()
  })

  it('lets the running handler finish when aborted, then stops', async () => {
    const log = await logWith(5)
    const controller = new AbortController()
    const seen: number[] = []
    await catchupSubscribe(
      log.events(),
      async (event) => {
        if (event.index === 1) controller.abort()
        await sleep(5)
        seen.push(event.index)
      },
      { signal: controller.signal },
    )
    expect(seen).toEqual([0, 1])
    await log.close()
  })

  it('holds no memory per event handled while it has a signal (500,000 events)', async () => {
    v8.setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const count = 500_000
    function* numbers() {
      for (let n = 0; n < count; n++) yield n
    }
    gc()
    const before = process.memoryUsage().heapUsed
    let atEnd = 0
    await catchupSubscribe(
      numbers(),
      (n) => {
        if (n !== count - 1) return
        gc()
        atEnd = process.memoryUsage().heapUsed
      },
      { signal: new AbortController().signal },
    )
    // Racing each wait against one abort promise kept ~350 bytes an event (176 MB here).
    expect(atEnd - before).toBeLessThan(20_000_000)
  }, 60_000)

  it('does nothing with an already aborted signal', async () => {
    const log = await logWith(3)
    const seen: number[] = []
    await catchupSubscribe(log.events(), (event) => void seen.push(event.index), { signal: AbortSignal.abort() })
    expect(seen).toEqual([])
    await log.close()
  })

  it('lets handlers append to the log they read, in a chain', async () => {
    const log = await initLog<{ type: 'step'; n: number }>({ storage: memoryStorage() })
    const seen: number[] = []
    const done = catchupSubscribe(log.events(), async (event) => {
      seen.push(event.n)
      if (event.n < 50) await log.append({ type: 'step', n: event.n + 1 })
    })
    await log.append({ type: 'step', n: 0 })
    await until(() => seen.length === 51)
    await log.close()
    await done
    expect(seen).toEqual(Array.from({ length: 51 }, (_, n) => n))
  })

  it('also takes plain iterables and async generators', async () => {
    const fromArray: number[] = []
    await catchupSubscribe([1, 2, 3], (n) => void fromArray.push(n))
    expect(fromArray).toEqual([1, 2, 3])
    async function* generate() {
      yield 'a'
      yield 'b'
    }
    const fromGenerator: string[] = []
    await catchupSubscribe(generate(), (s) => void fromGenerator.push(s))
    expect(fromGenerator).toEqual(['a', 'b'])
  })

  it('says what it needs when given something other than events, such as the log itself', async () => {
    const log = await logWith(1)
    await expect(catchupSubscribe(log as never, () => {})).rejects.toThrow(/needs events to iterate, such as log\.events\(\); got the log itself/)
    await expect(catchupSubscribe(undefined as never, () => {})).rejects.toThrow(/needs events to iterate, such as log\.events\(\); got undefined/)
    await log.close()
  })

  it('works with the README skip-and-bump style across a restart', async () => {
    const storage = memoryStorage()
    const backend = memoryStoreBackend({ total: 0 })
    const handled: number[] = []
    for (const round of [0, 1]) {
      const log = await initLog<Counted>({ storage })
      const store = await initStateStore({ storeBackend: backend })
      const done = catchupSubscribe(log.events(), (event) => {
        if (event.index <= store.getVersion()) return // already processed before the restart
        handled.push(event.index)
        const total = event.type === 'counted' ? store.getState().total + event.n : store.getState().total
        store.update({ total }, event.index)
      })
      for (let n = 0; n < 3; n++) await log.append({ type: 'counted', n: round * 3 + n })
      await until(() => store.getVersion() === round * 3 + 2)
      await log.close()
      await done
      await store.close()
    }
    expect(handled).toEqual([0, 1, 2, 3, 4, 5])
    expect(await backend.read()).toEqual({ _version: 5, state: { total: 15 } })
  })
})

describe('project', () => {
  it('applies reduce to every event and bumps the version for each, ignored ones too', async () => {
    const log = await initLog<Counted>({ storage: memoryStorage() })
    await log.append({ type: 'counted', n: 5 })
    await log.append({ type: 'noise' })
    const store = await initStateStore({ storeBackend: memoryStoreBackend({ total: 0, count: 0 }) })
    const done = project({ log, store, reduce: sum })
    await log.append({ type: 'counted', n: 7 })
    await log.append({ type: 'noise' })
    await until(() => store.getVersion() === 3)
    expect(store.getState()).toEqual({ total: 12, count: 2 })
    await log.close()
    await done
  })

  it('starts after the stored version: a restart applies each event exactly once', async () => {
    const folder = await tempDir('project')
    const logFile = join(folder, 'log.ndjson')
    const stateFile = join(folder, 'sum.json')
    const reduced: number[] = []
    const counting = (state: { total: number; count: number }, event: Indexed<Counted>) => {
      reduced.push(event.index)
      return sum(state, event)
    }
    for (let round = 0; round < 3; round++) {
      const log = await initLog<Counted>({ filename: logFile })
      const store = await initStateStore({ storeBackend: fsStoreBackend(stateFile, { total: 0, count: 0 }) })
      const done = project({ log, store, reduce: counting })
      for (let n = 0; n < 4; n++) await log.append({ type: 'counted', n: 1 })
      await until(() => store.getVersion() === round * 4 + 3)
      await log.close()
      await done
      await store.close()
    }
    expect(reduced).toEqual(Array.from({ length: 12 }, (_, n) => n))
    expect(JSON.parse(await readFile(stateFile, 'utf8'))).toEqual({ _version: 11, state: { total: 12, count: 12 } })
  })

  it('rebuilds from the initial state when its version changes, and stores the version', async () => {
    const folder = await tempDir('project')
    const logFile = join(folder, 'log.ndjson')
    const stateFile = join(folder, 'model.json')
    const log = await initLog<Counted>({ filename: logFile })
    for (let n = 1; n <= 4; n++) await log.append({ type: 'counted', n })
    await log.append({ type: 'noise' })

    async function run(version: number | string | undefined, reduce: (state: { seen: number[] }, event: Indexed<Counted>) => { seen: number[] }) {
      const store = await initStateStore({ storeBackend: fsStoreBackend(stateFile, { seen: [] as number[] }) })
      const controller = new AbortController()
      const done = project({ log, store, reduce, version, signal: controller.signal })
      await until(() => store.getVersion() === 4)
      controller.abort()
      await done
      await store.close()
      return JSON.parse(await readFile(stateFile, 'utf8'))
    }

    const evens = (state: { seen: number[] }, event: Indexed<Counted>) =>
      event.type === 'counted' && event.n % 2 === 0 ? { seen: [...state.seen, event.n] } : state
    const odds = (state: { seen: number[] }, event: Indexed<Counted>) =>
      event.type === 'counted' && event.n % 2 === 1 ? { seen: [...state.seen, event.n] } : state

    expect(await run(1, evens)).toEqual({ _version: 4, _projection: 1, state: { seen: [2, 4] } })
    // Same version, new code: nothing is replayed (the user did not ask for it).
    expect(await run(1, odds)).toEqual({ _version: 4, _projection: 1, state: { seen: [2, 4] } })
    // New version: rebuilt from scratch with the new code.
    expect(await run('2-odds', odds)).toEqual({ _version: 4, _projection: '2-odds', state: { seen: [1, 3] } })
    // Dropping the version is a change too.
    expect(await run(undefined, evens)).toEqual({ _version: 4, state: { seen: [2, 4] } })
    await log.close()
  })

  it('rejects with the error of reduce', async () => {
    const log = await logWith(3)
    const store = await initStateStore({ storeBackend: memoryStoreBackend({ total: 0, count: 0 }) })
    const failure = new Error('bad reduce')
    await expect(
      project({
        log,
        store,
        reduce: (state, event) => {
          if (event.index === 1) throw failure
          return sum(state, event)
        },
      }),
    ).rejects.toBe(failure)
    expect(store.getVersion()).toBe(0)
    await log.close()
  })

  it('says what it needs when the log, the store or reduce is missing', async () => {
    const log = await logWith(1)
    const store = await initStateStore({ storeBackend: memoryStoreBackend({ total: 0, count: 0 }) })
    const needs = /project\(\) needs \{ log, store, reduce: \(state, event\) => newState \}/
    await expect(project({ store, reduce: sum } as never)).rejects.toThrow(needs)
    await expect(project({ log, reduce: sum } as never)).rejects.toThrow(needs)
    await expect(project({ log, store } as never)).rejects.toThrow(needs)
    await expect(project({ log, store: { name: 'mine', getState: () => ({}) }, reduce: sum } as never)).rejects.toThrow(
      'project() needs a StateStore, such as initStateStore() opens; mine has no getVersion, update, getProjection, reset',
    )
    await log.close()
  })

  it('rejects when reduce forgets to return a state, naming the event', async () => {
    const log = await logWith(1)
    const store = await initStateStore({ storeBackend: memoryStoreBackend({ total: 0, count: 0 }) })
    await expect(project({ log, store, reduce: (() => undefined) as never })).rejects.toThrow(/reduce returned undefined for event 0 of memory/)
    await log.close()
  })

  it('refuses a store that reflects events the log does not have', async () => {
    const log = await logWith(2)
    const backend = memoryStoreBackend({ total: 0, count: 0 }, { name: 'sum.json' })
    await backend.write({ _version: 9, state: { total: 45, count: 10 } })
    const store = await initStateStore({ storeBackend: backend })
    const error = await project({ log, store, reduce: sum }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(StateAheadOfLogError)
    expect(error).toMatchObject({ code: 'STATE_AHEAD_OF_LOG' })
    expect((error as Error).message).toContain('sum.json is at version 9, but the log memory ends at index 1')
    await log.close()
    // The usual way to get there: the log was started over, the state kept.
    const empty = await logWith(0)
    const emptyError = await project({ log: empty, store, reduce: sum }).catch((caught: unknown) => caught)
    expect(emptyError).toBeInstanceOf(StateAheadOfLogError)
    expect((emptyError as Error).message).toContain(
      'sum.json is at version 9, but the log memory is empty; delete the state to rebuild it, or point the store at its own log',
    )
    await empty.close()
  })

  it('works alongside a subscriber that appends: the projection sees the appended events', async () => {
    type Event = { type: 'bookmark'; url: string } | { type: 'info'; url: string; title: string }
    const log = await initLog<Event>({ storage: memoryStorage() })
    const store = await initStateStore({ storeBackend: memoryStoreBackend({ titles: {} as Record<string, string> }) })
    const fetcher = catchupSubscribe(log.events(), async (event) => {
      if (event.type === 'bookmark') await log.append({ type: 'info', url: event.url, title: event.url.toUpperCase() })
    })
    const projection = project({
      log,
      store,
      reduce: (state, event) => (event.type === 'info' ? { titles: { ...state.titles, [event.url]: event.title } } : state),
    })
    for (const url of ['a', 'b', 'c']) await log.append({ type: 'bookmark', url })
    await until(() => Object.keys(store.getState().titles).length === 3)
    expect(store.getState().titles).toEqual({ a: 'A', b: 'B', c: 'C' })
    await log.close()
    await Promise.all([fetcher, projection])
  })
})

describe('project, property', () => {
  it('over any events and restarts, ends with the fold of all events, applying each once', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Runs of appends; between runs the process "restarts" (log, store and projection reopened).
        fc.array(fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 8 }), { minLength: 1, maxLength: 5 }),
        fc.nat({ max: 3 }), // after which run the projection's version is bumped (a rebuild)
        async (runs, bumpAfter) => {
          const storage = memoryStorage()
          const backend = memoryStoreBackend({ total: 0, count: 0 })
          const appliedPerVersion = new Map<number, number[]>()
          const all: number[] = []
          for (let run = 0; run < runs.length; run++) {
            const version = run > bumpAfter ? 2 : 1
            const log = await initLog<Counted>({ storage })
            const store = await initStateStore({ storeBackend: backend, writeInterval: 0 })
            const applied = appliedPerVersion.get(version) ?? []
            appliedPerVersion.set(version, applied)
            const projection = project({
              log,
              store,
              version,
              reduce: (state, event) => {
                applied.push(event.index)
                return sum(state, event)
              },
            })
            for (const n of runs[run]!) {
              await log.append({ type: 'counted', n })
              all.push(n)
            }
            await until(() => store.getVersion() === log.length - 1)
            await log.close()
            await projection
            await store.close()
          }
          const expected = { total: all.reduce((a, b) => a + b, 0), count: all.length }
          const stored = await backend.read()
          if (all.length > 0) expect(stored).toMatchObject({ _version: all.length - 1, state: expected })
          // Each projection version applied every event exactly once, in order.
          for (const applied of appliedPerVersion.values()) expect(applied).toEqual(applied.map((_, i) => i))
        },
      ),
      { numRuns: 40 },
    )
  })
})
