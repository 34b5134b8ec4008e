/**
 * A state-store backend written for 0.2.x, typed with the `StateSnapshot` it
 * exported: `{ name, read(): Promise<{ _version, state } | null>, write(snapshot) }`.
 * `npm run typecheck` compiles this file, so the 0.2.x code type-checks; the
 * test shows it works unchanged.
 */
import { describe, expect, it } from 'vitest'
import { initLog, initStateStore, memoryStorage, project, type StateSnapshot, type StateStoreBackend } from '../../src/index.js'

interface BookmarksReadModel {
  byUrl: { [url: string]: { url: string; title: string } }
}

/** As a 0.2.x user wrote it: keeps the snapshot's JSON in a Map (a stand-in for a key-value store). */
function keyValueBackend<S>(kv: Map<string, string>, key: string, initialState: S): StateStoreBackend<S> {
  return {
    name: key,
    initialState,
    async read(): Promise<StateSnapshot<S> | null> {
      const text = kv.get(key)
      return text === undefined ? null : (JSON.parse(text) as StateSnapshot<S>)
    },
    async write(snapshot: StateSnapshot<S>): Promise<void> {
      kv.set(key, JSON.stringify(snapshot))
    },
  }
}

describe('a 0.2.x custom backend', () => {
  it('receives { _version, state } and its { _version, state } is read back', async () => {
    const kv = new Map<string, string>([
      ['bookmarks', JSON.stringify({ _version: 1, state: { byUrl: { 'https://a.example/': { url: 'https://a.example/', title: 'A' } } } })],
    ])
    const store = await initStateStore<BookmarksReadModel>({ storeBackend: keyValueBackend(kv, 'bookmarks', { byUrl: {} }) })
    expect(store.getVersion()).toBe(1)
    expect(store.getState().byUrl['https://a.example/']?.title).toBe('A')
    const state = store.getState()
    store.update({ ...state, byUrl: { ...state.byUrl, 'https://b.example/': { url: 'https://b.example/', title: 'B' } } }, 2)
    await store.close()
    expect(JSON.parse(kv.get('bookmarks')!)).toEqual({
      _version: 2,
      state: { byUrl: { 'https://a.example/': { url: 'https://a.example/', title: 'A' }, 'https://b.example/': { url: 'https://b.example/', title: 'B' } } },
    })
  })

  it('keeps a projection version, since it stores the whole snapshot', async () => {
    const kv = new Map<string, string>()
    const log = await initLog<{ type: 'info'; url: string; title: string }>({ storage: memoryStorage() })
    await log.append({ type: 'info', url: 'https://a.example/', title: 'A' })
    const reduce = (state: BookmarksReadModel, event: { url: string; title: string }) => {
      state.byUrl[event.url] = { url: event.url, title: event.title }
      return state
    }
    for (let run = 0; run < 2; run++) {
      const store = await initStateStore<BookmarksReadModel>({ storeBackend: keyValueBackend(kv, 'bookmarks', { byUrl: {} }) })
      if (run === 1) expect(store.getProjection()).toBe(3) // not rebuilt on the second start
      const stop = new AbortController()
      const projecting = project({ log, store, reduce, version: 3, signal: stop.signal })
      while (store.getVersion() < 0) await new Promise((resolve) => setTimeout(resolve, 1))
      stop.abort()
      await projecting
      await store.close()
    }
    expect(JSON.parse(kv.get('bookmarks')!)).toEqual({
      _version: 0,
      _projection: 3,
      state: { byUrl: { 'https://a.example/': { url: 'https://a.example/', title: 'A' } } },
    })
    await log.close()
  })
})
