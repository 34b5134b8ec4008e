/**
 * Read models that change their state in place: what the store saves always
 * matches its version, a reducer that fails stops the saving, and project()
 * works with any StateStore.
 */
import { describe, expect, it } from 'vitest'
import {
  initLog,
  initStateStore,
  memoryStorage,
  memoryStoreBackend,
  project,
  StateStoreClosedError,
  type Indexed,
  type StateSnapshot,
  type StateStore,
  type StateStoreBackend,
} from '../../src/index.js'
import { poll } from '../helpers/poll.js'

type Deposit = { type: 'deposit'; amount: number }
interface Totals {
  total: number
  count: number
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A counting reducer that changes the state in place: any event applied twice or skipped shows in `count`. */
const countInPlace = (state: Totals, event: Indexed<Deposit>) => {
  state.total += event.amount
  state.count++
  return state
}

/** A memory backend whose writes take `ms`, recording the text of each (what a file would hold). */
function slowBackend(ms: number, { checkUnchanged = true } = {}) {
  const inner = memoryStoreBackend<Totals>({ total: 0, count: 0 })
  const written: StateSnapshot<Totals>[] = []
  const backend: StateStoreBackend<Totals> = {
    ...inner,
    async write(snapshot) {
      // Read the state at the start and the end of the write: both must be the same.
      const before = JSON.stringify(snapshot)
      await sleep(ms)
      if (checkUnchanged) expect(JSON.stringify(snapshot)).toBe(before)
      written.push(JSON.parse(before))
      await inner.write(snapshot)
    },
  }
  return { backend, inner, written }
}

async function depositLog(count: number) {
  const log = await initLog<Deposit>({ storage: memoryStorage() })
  for (let i = 0; i < count; i++) log.append({ type: 'deposit', amount: 1 + (i % 10) })
  await log.append({ type: 'deposit', amount: 0 })
  return log
}

describe('a reducer that changes the state in place', () => {
  it('never has a save read a state that changes under it: each saved state matches its version', async () => {
    const log = await depositLog(3000)
    const { backend, inner, written } = slowBackend(15)
    const store = await initStateStore({ storeBackend: backend, writeInterval: 0 })
    const stop = new AbortController()
    const projecting = project({ log, store, reduce: countInPlace, signal: stop.signal })
    // Events keep coming while saves are in flight.
    for (let i = 0; i < 100; i++) {
      for (let j = 0; j < 50; j++) log.append({ type: 'deposit', amount: 1 })
      await sleep(3)
    }
    await poll(
      async () => store.getVersion(),
      (version) => version === log.length - 1,
    )
    stop.abort()
    await projecting
    await store.close()
    expect(written.length).toBeGreaterThanOrEqual(3)
    for (const snapshot of written) expect(snapshot.state.count).toBe(snapshot._version + 1)
    expect(await inner.read()).toMatchObject({ _version: log.length - 1, state: { count: log.length } })
    await log.close()
  })

  it('writes again a state handed to update() in place while a save was reading it', async () => {
    const { backend, written } = slowBackend(30, { checkUnchanged: false })
    const store = await initStateStore({ storeBackend: backend, writeInterval: 0 })
    store.update({ total: 1, count: 1 }, 0)
    await sleep(10) // the save of version 0 is in flight
    expect(store.beforeChange?.()).toBeInstanceOf(Promise)
    const state = store.getState()
    state.count = 2
    store.update(state, 1) // without awaiting beforeChange(): the save in flight does not count
    await store.flush()
    expect(written.at(-1)).toEqual({ _version: 1, state: { total: 1, count: 2 } })
    expect(store.beforeChange?.()).toBeUndefined()
    await store.close()
  })

  it('stops saving when the reducer throws halfway, so a restart goes on from the last save', async () => {
    const log = await depositLog(10)
    const backend = memoryStoreBackend<Totals>({ total: 0, count: 0 })
    const store = await initStateStore({ storeBackend: backend, writeInterval: 60_000 })
    const failing = project({
      log,
      store,
      reduce: (state, event) => {
        state.count++ // changed in place…
        if (event.index === 5) throw new Error('bad event') // …then fails before returning
        state.total += event.amount
        return state
      },
    })
    await expect(failing).rejects.toThrow('bad event')
    expect(() => store.update({ total: 0, count: 0 }, 99)).toThrow(StateStoreClosedError)
    await store.close()
    // Whatever was saved matches its version; the half-changed state was not written by close().
    const saved = await backend.read()
    if (saved !== null) expect(saved.state.count).toBe(saved._version + 1)
    const reopened = await initStateStore({ storeBackend: backend })
    const stop = new AbortController()
    const rebuilding = project({ log, store: reopened, reduce: countInPlace, signal: stop.signal })
    await poll(
      async () => reopened.getVersion(),
      (version) => version === log.length - 1,
    )
    stop.abort()
    await rebuilding
    expect(reopened.getState().count).toBe(log.length)
    await reopened.close()
    await log.close()
  })
})

describe('project() with a StateStore of your own', () => {
  it('keeps any object implementing the interface up to date, version and projection included', async () => {
    const log = await depositLog(4)
    let state: Totals = { total: 0, count: 0 }
    let version = -1
    let projection: number | string | undefined = 'old'
    const calls: string[] = []
    const store: StateStore<Totals> = {
      name: 'my own store',
      getState: () => state,
      getVersion: () => version,
      update(newState, newVersion) {
        state = newState
        version = newVersion
      },
      getProjection: () => projection,
      reset(newProjection) {
        calls.push(`reset ${String(newProjection)}`)
        state = { total: 0, count: 0 }
        version = -1
        projection = newProjection
      },
      flush: async () => {},
      close: async () => {},
    }
    const stop = new AbortController()
    const projecting = project({ log, store, version: 2, signal: stop.signal, reduce: (s, e) => ({ total: s.total + e.amount, count: s.count + 1 }) })
    await poll(
      async () => version,
      (v) => v === log.length - 1,
    )
    stop.abort()
    await projecting
    expect(calls).toEqual(['reset 2'])
    expect(state.count).toBe(log.length)
    await log.close()
  })
})

describe('StateStoreBackend.close()', () => {
  it('is called once, by the store’s close(), after its last write', async () => {
    const inner = memoryStoreBackend<Totals>({ total: 0, count: 0 })
    const calls: string[] = []
    const backend: StateStoreBackend<Totals> = {
      ...inner,
      async write(snapshot) {
        calls.push(`write ${snapshot._version}`)
        await inner.write(snapshot)
      },
      async close() {
        calls.push('close')
      },
    }
    const store = await initStateStore({ storeBackend: backend, writeInterval: 60_000 })
    store.update({ total: 1, count: 1 }, 0)
    store.update({ total: 2, count: 2 }, 1)
    await Promise.all([store.close(), store.close()])
    // The two updates of one tick make one write.
    expect(calls).toEqual(['write 1', 'close'])
  })
})
