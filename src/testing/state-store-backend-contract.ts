/**
 * The contract every `StateStoreBackend` must honour, as tests any backend's
 * own test file declares with `describeStateStoreBackend`. It uses nothing
 * but the interface (and `initStateStore` over it), so it runs against any
 * backend: the fixture hands it backends on fresh places (a file, a key, a
 * row) and, optionally, new backend objects on the same place.
 */
import { initStateStore as openStateStore, type InitStateStoreOptions, type StateStore } from '../core/state-store.js'
import type { StateSnapshot, StateStoreBackend } from '../core/state-store-backend.js'
import { assert, assertEqual } from './assert.js'
import { testEnvironment } from './environment.js'
import { runnerFor, type TestRunner } from './runner.js'

type MaybePromise<T> = T | Promise<T>

/** How the contract suite gets the backends it tests. */
export interface StateStoreBackendFixture {
  /** A backend on a fresh, empty place, with `initialState` if given. Called once or more by each test. */
  create(initialState?: unknown): MaybePromise<StateStoreBackend<unknown>>
  /**
   * Optional: a new backend object on the same place as `previous`, with
   * `initialState` if given, as after a restart: it sees what `previous`
   * wrote. Without it, the tests of reopening are left out.
   */
  reopen?(previous: StateStoreBackend<unknown>, initialState?: unknown): MaybePromise<StateStoreBackend<unknown>>
}

function initStateStore<S>(options: InitStateStoreOptions<S>): Promise<StateStore<S>> {
  return openStateStore<S>(options, testEnvironment)
}

const awkwardState = {
  text: 'émoji 🎉, quotes " and \\ backslash, newline \n, NUL \u0000',
  numbers: [0, -1, 1.5, 1e21, Number.MAX_SAFE_INTEGER],
  nested: { deep: [{ a: null }, [], {}], empty: '' },
  yes: true,
  no: false,
}

/**
 * Declares the contract tests of one `StateStoreBackend` implementation, in
 * a `describe` block named after it.
 *
 * @param name What the tests are named after, e.g. `'redisStoreBackend'`.
 * @param fixture Makes the backends to test.
 * @param runner Your test runner's `describe` and `it`; defaults to the globals of that name (jest, vitest with `globals: true`).
 * @throws `UsageError` (code `USAGE`) without a runner.
 * @example
 * import { describe, it } from 'node:test' // or 'vitest'
 * import { memoryStoreBackend } from 'tiny-event-sourcing'
 * import { describeStateStoreBackend } from 'tiny-event-sourcing/testing'
 *
 * describeStateStoreBackend('memoryStoreBackend', { create: (initialState) => memoryStoreBackend(initialState) }, { describe, it })
 */
export function describeStateStoreBackend(name: string, fixture: StateStoreBackendFixture, runner?: TestRunner): void {
  const { describe, it } = runnerFor(runner, 'describeStateStoreBackend()')

  describe(`StateStoreBackend contract: ${name}`, () => {
    it('has a name and reads null where nothing is stored', async () => {
      const backend = await fixture.create()
      assert(typeof backend.name === 'string' && backend.name.length > 0, `a backend has a non-empty name, not ${String(backend.name)}`)
      assertEqual(await backend.read(), null, 'read() of a fresh place')
    })

    it('exposes the initial state it was given, and none when given none', async () => {
      assertEqual((await fixture.create({ byUrl: {} })).initialState, { byUrl: {} }, 'initialState of a backend given { byUrl: {} }')
      assertEqual((await fixture.create()).initialState, undefined, 'initialState of a backend given none')
    })

    it('reads back what was written, JSON values of every kind', async () => {
      const backend = await fixture.create()
      await backend.write({ _version: 41, state: awkwardState })
      const snapshot = await backend.read()
      assertEqual(snapshot, { _version: 41, state: awkwardState }, 'read() after write()')
      assert(snapshot !== null && !('_projection' in snapshot), 'a snapshot written without projection is read without one')
    })

    it('keeps version -1 and non-object states', async () => {
      const backend = await fixture.create()
      for (const state of [0, 'text', null, [1, 2], false]) {
        await backend.write({ _version: -1, state })
        assertEqual(await backend.read(), { _version: -1, state }, `read() after writing the state ${JSON.stringify(state)}`)
      }
    })

    it('keeps the projection version, number or string, unchanged', async () => {
      const backend = await fixture.create()
      await backend.write({ _version: 3, _projection: 2, state: { n: 1 } })
      assertEqual(await backend.read(), { _version: 3, _projection: 2, state: { n: 1 } }, 'read() after writing projection 2')
      await backend.write({ _version: 4, _projection: 'v2-favicons', state: { n: 2 } })
      assertEqual(await backend.read(), { _version: 4, _projection: 'v2-favicons', state: { n: 2 } }, "read() after writing projection 'v2-favicons'")
      await backend.write({ _version: 5, state: { n: 3 } })
      assertEqual(await backend.read(), { _version: 5, state: { n: 3 } }, 'read() after writing no projection')
    })

    it('replaces the snapshot on every write', async () => {
      const backend = await fixture.create()
      for (let version = 0; version < 20; version++) await backend.write({ _version: version, state: { version } })
      assertEqual(await backend.read(), { _version: 19, state: { version: 19 } }, 'read() after 20 writes')
    })

    it('gives fresh objects: changing what was written or read changes nothing stored', async () => {
      const backend = await fixture.create()
      const state = { list: [1] }
      await backend.write({ _version: 0, state })
      state.list.push(2)
      const first = (await backend.read()) as StateSnapshot<{ list: number[] }>
      first.state.list.push(3)
      assertEqual(await backend.read(), { _version: 0, state: { list: [1] } }, 'read() after changing what was written and what was read')
    })

    if (fixture.reopen) {
      it('keeps the snapshot for the next backend object on the same place', async () => {
        const backend = await fixture.create()
        await backend.write({ _version: 7, _projection: 1, state: { kept: true } })
        assertEqual(await (await fixture.reopen!(backend)).read(), { _version: 7, _projection: 1, state: { kept: true } }, 'read() of a reopened backend')
      })

      it('writeSync, where offered, stores what read() gives back', async () => {
        const backend = await fixture.create()
        if (backend.writeSync === undefined) return
        await backend.write({ _version: 1, state: 'async' })
        backend.writeSync({ _version: 2, _projection: 'p', state: awkwardState })
        assertEqual(await (await fixture.reopen!(backend)).read(), { _version: 2, _projection: 'p', state: awkwardState }, 'read() after writeSync()')
      })

      it('carries a state store across a close and reopen', async () => {
        const backend = (await fixture.create({ count: 0 })) as StateStoreBackend<{ count: number }>
        const store = await initStateStore({ storeBackend: backend })
        assertEqual(store.getVersion(), -1, 'version of a new store')
        assertEqual(store.getState(), { count: 0 }, 'state of a new store')
        for (let index = 0; index < 100; index++) store.update({ count: index + 1 }, index)
        await store.close()
        const reopened = await initStateStore({ storeBackend: (await fixture.reopen!(backend, { count: 0 })) as StateStoreBackend<{ count: number }> })
        assertEqual(reopened.getVersion(), 99, 'version of the reopened store')
        assertEqual(reopened.getState(), { count: 100 }, 'state of the reopened store')
        await reopened.close()
      })
    }
  })
}
