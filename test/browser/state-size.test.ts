/**
 * A big read model in IndexedDB (the browser's fsStoreBackend): a state of
 * more than 20 MB, updated in place by project() while it is saved. Each
 * save is a state with exactly its version, the page keeps running during a
 * save, and opening the store costs about one JSON.parse. The figures are
 * printed, not asserted: speed is measured in bench/, not in tests.
 */
import { expect, it } from 'vitest'
import { useBrowser } from './harness.js'

const { openHarness } = useBrowser()

it('saves a 20 MB read model, changed in place, as states that match their versions, with the page running meanwhile', async () => {
  const page = await openHarness()
  const seen = await page.evaluate(async () => {
    const { initStateStore, fsStoreBackend, initLog, memoryStorage, project } = window.exported
    type Page = { url: string; title: string; count: number }
    type State = { pages: Record<string, Page>; count: number }
    const name = `big-${Date.now()}.json`
    const pages = 120_000
    const initial: State = { pages: {}, count: 0 }
    const log = await initLog<{ type: 'visit'; url: string }>({ storage: memoryStorage() })
    for (let i = 0; i < pages; i++) log.append({ type: 'visit', url: `https://example.com/articles/${i}/a-page-with-a-longer-address` })
    await log.append({ type: 'visit', url: 'https://example.com/' })
    const backend = fsStoreBackend<State>(name, initial)
    const saves: { version: number; count: number; ms: number; ticks: number }[] = []
    let ticks = 0
    // The longest the page waited for its timer while a save was in flight.
    let longestGap = 0
    let saving = false
    let last = performance.now()
    const monitor = setInterval(() => {
      const now = performance.now()
      if (saving) longestGap = Math.max(longestGap, now - last)
      last = now
      ticks++
    }, 1)
    const recording = {
      ...backend,
      async write(snapshot: { _version: number; state: State }) {
        const started = performance.now()
        const ticksBefore = ticks
        saving = true
        await backend.write(snapshot).finally(() => (saving = false))
        saves.push({ version: snapshot._version, count: snapshot.state.count, ms: performance.now() - started, ticks: ticks - ticksBefore })
      },
    }
    const store = await initStateStore<State>({ storeBackend: recording, writeInterval: 0 })
    const stop = new AbortController()
    const projecting = project({
      log,
      store,
      signal: stop.signal,
      reduce: (state, event) => {
        const page = state.pages[event.url] ?? { url: event.url, title: `Title of ${event.url}`, count: 0 }
        page.count++
        state.pages[event.url] = page
        state.count++ // after the pages: a save that let it change mid-way would not match its version
        return state
      },
    })
    while (store.getVersion() < log.length - 1) await new Promise((resolve) => setTimeout(resolve, 10))
    // More events while the big state is being saved.
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 2000; i++)
        log.append({ type: 'visit', url: `https://example.com/articles/${(round * 2000 + i) % pages}/a-page-with-a-longer-address` })
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    while (store.getVersion() < log.length - 1) await new Promise((resolve) => setTimeout(resolve, 10))
    stop.abort()
    await projecting
    await store.close()
    clearInterval(monitor)
    const stored = await backend.read()
    const text = JSON.stringify(stored)
    let started = performance.now()
    JSON.parse(text)
    const parseMs = performance.now() - started
    started = performance.now()
    const reopened = await initStateStore<State>({ storeBackend: fsStoreBackend<State>(name, initial) })
    const loadMs = performance.now() - started
    await reopened.close()
    await log.close()
    // Where a save's time goes, step by step (for the printout).
    started = performance.now()
    Object.keys(stored!.state.pages)
    const keysMs = performance.now() - started
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('tiny-event-sourcing')
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    const transaction = db.transaction('snapshots', 'readwrite')
    started = performance.now()
    transaction.objectStore('snapshots').put(text, `${name}.copy`)
    const putMs = performance.now() - started
    await new Promise((resolve) => (transaction.oncomplete = resolve))
    db.close()
    return {
      keysMs,
      putMs,
      saves,
      bytes: text.length,
      parseMs,
      loadMs,
      longestGap,
      stored: { version: stored?._version, count: stored?.state.count },
      events: log.length,
    }
  })
  console.log(
    `IndexedDB read model of ${(seen.bytes / 2 ** 20).toFixed(1)} MB: ${seen.saves.length} saves (ms: ${seen.saves.map((save) => Math.round(save.ms)).join(', ')}), ` +
      `longest stall during a save ${seen.longestGap.toFixed(0)} ms; opened in ${seen.loadMs.toFixed(0)} ms against ${seen.parseMs.toFixed(0)} ms for one JSON.parse; listing the keys of the big object takes ${seen.keysMs.toFixed(0)} ms, IndexedDB's put() of the text ${seen.putMs.toFixed(0)} ms`,
  )
  expect(seen.bytes).toBeGreaterThan(20 * 2 ** 20)
  expect(seen.saves.length).toBeGreaterThanOrEqual(2)
  for (const save of seen.saves) expect(save.count).toBe(save.version + 1)
  expect(seen.stored).toEqual({ version: seen.events - 1, count: seen.events })
  // The page ran during the big saves: its timer fired while they were in flight.
  expect(Math.max(...seen.saves.map((save) => save.ticks))).toBeGreaterThan(5)
  await page.close()
}, 300_000)
