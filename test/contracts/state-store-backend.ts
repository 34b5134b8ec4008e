/**
 * The contract every `StateStoreBackend` must meet, as a reusable suite:
 * call `describeStateStoreBackendContract` from a backend's test file.
 * It uses nothing but the interface, so it runs against any backend.
 */
import { describe, expect, it } from 'vitest'
import { initStateStore, type StateSnapshot, type StateStoreBackend } from '../../src/index.js'

/** One place a backend keeps a snapshot (a file, a key, a row). */
export interface BackendPlace {
  /** A new backend object on this place; calls after the first see what earlier ones wrote. */
  open(initialState?: unknown): StateStoreBackend<unknown> | Promise<StateStoreBackend<unknown>>
  /** Frees the place, if needed. */
  cleanup?(): Promise<void> | void
}

/** Defines the contract tests for a backend; `newPlace` gives a fresh, empty place per test. */
export function describeStateStoreBackendContract(backendName: string, newPlace: () => BackendPlace | Promise<BackendPlace>): void {
  async function withPlace(test: (place: BackendPlace) => Promise<void>): Promise<void> {
    const place = await newPlace()
    try {
      await test(place)
    } finally {
      await place.cleanup?.()
    }
  }

  const awkwardState = {
    text: 'émoji 🎉, quotes " and \\ backslash, newline \n, NUL \u0000',
    numbers: [0, -1, 1.5, 1e21, Number.MAX_SAFE_INTEGER],
    nested: { deep: [{ a: null }, [], {}], empty: '' },
    yes: true,
    no: false,
  }

  describe(`StateStoreBackend contract: ${backendName}`, () => {
    it('has a name and reads null where nothing is stored', () =>
      withPlace(async (place) => {
        const backend = await place.open()
        expect(typeof backend.name).toBe('string')
        expect(backend.name.length).toBeGreaterThan(0)
        expect(await backend.read()).toBeNull()
      }))

    it('exposes the initial state it was given, and none when given none', () =>
      withPlace(async (place) => {
        expect((await place.open({ byUrl: {} })).initialState).toEqual({ byUrl: {} })
        expect((await place.open()).initialState).toBeUndefined()
      }))

    it('reads back what was written, JSON values of every kind', () =>
      withPlace(async (place) => {
        const backend = await place.open()
        await backend.write({ _version: 41, state: awkwardState })
        const snapshot = await backend.read()
        expect(snapshot).toEqual({ _version: 41, state: awkwardState })
        expect(snapshot).not.toHaveProperty('_projection')
      }))

    it('keeps version -1 and non-object states', () =>
      withPlace(async (place) => {
        const backend = await place.open()
        for (const state of [0, 'text', null, [1, 2], false]) {
          await backend.write({ _version: -1, state })
          expect(await backend.read()).toEqual({ _version: -1, state })
        }
      }))

    it('keeps the projection version, number or string, unchanged', () =>
      withPlace(async (place) => {
        const backend = await place.open()
        await backend.write({ _version: 3, _projection: 2, state: { n: 1 } })
        expect(await backend.read()).toEqual({ _version: 3, _projection: 2, state: { n: 1 } })
        await backend.write({ _version: 4, _projection: 'v2-favicons', state: { n: 2 } })
        expect(await backend.read()).toEqual({ _version: 4, _projection: 'v2-favicons', state: { n: 2 } })
        await backend.write({ _version: 5, state: { n: 3 } })
        expect(await backend.read()).toEqual({ _version: 5, state: { n: 3 } })
      }))

    it('replaces the snapshot on every write', () =>
      withPlace(async (place) => {
        const backend = await place.open()
        for (let version = 0; version < 20; version++) await backend.write({ _version: version, state: { version } })
        expect(await backend.read()).toEqual({ _version: 19, state: { version: 19 } })
      }))

    it('gives fresh objects: changing what was written or read changes nothing stored', () =>
      withPlace(async (place) => {
        const backend = await place.open()
        const state = { list: [1] }
        await backend.write({ _version: 0, state })
        state.list.push(2)
        const first = (await backend.read()) as StateSnapshot<{ list: number[] }>
        first.state.list.push(3)
        expect(await backend.read()).toEqual({ _version: 0, state: { list: [1] } })
      }))

    it('keeps the snapshot for the next backend object on the same place', () =>
      withPlace(async (place) => {
        await (await place.open()).write({ _version: 7, _projection: 1, state: { kept: true } })
        expect(await (await place.open()).read()).toEqual({ _version: 7, _projection: 1, state: { kept: true } })
      }))

    it('writeSync, where offered, stores what read() gives back', () =>
      withPlace(async (place) => {
        const backend = await place.open()
        if (backend.writeSync === undefined) return
        await backend.write({ _version: 1, state: 'async' })
        backend.writeSync({ _version: 2, _projection: 'p', state: awkwardState })
        expect(await (await place.open()).read()).toEqual({ _version: 2, _projection: 'p', state: awkwardState })
      }))

    it('carries a state store across a close and reopen', () =>
      withPlace(async (place) => {
        const store = await initStateStore({ storeBackend: (await place.open({ count: 0 })) as StateStoreBackend<{ count: number }> })
        expect(store.getVersion()).toBe(-1)
        expect(store.getState()).toEqual({ count: 0 })
        for (let index = 0; index < 100; index++) store.update({ count: index + 1 }, index)
        await store.close()
        const reopened = await initStateStore({ storeBackend: (await place.open({ count: 0 })) as StateStoreBackend<{ count: number }> })
        expect(reopened.getVersion()).toBe(99)
        expect(reopened.getState()).toEqual({ count: 100 })
        await reopened.close()
      }))
  })
}
