/**
 * The IndexedDB log storage and the browser build in real headless Chromium,
 * beyond the shared contract (contracts.test.ts): what is stored, damage,
 * all-or-nothing batches, `initLog({ filename })`, and two tabs of one site.
 */
import type { Page } from 'playwright-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { expectWriterRefused, followInPage, useBrowser } from './harness.js'

const { openHarness } = useBrowser()

let counter = 0
function uniqueName(): string {
  return `test-log-${process.pid}-${++counter}`
}

describe('indexedDbStorage in the page, beyond the LogStorage contract (contracts.test.ts)', () => {
  let page: Page
  beforeAll(async () => {
    page = await openHarness()
  }, 60_000)

  it('stores each event as the exact line a log file would hold, with its type beside it', async () => {
    const name = uniqueName()
    const stored = await page.evaluate(async (name) => {
      const storage = window.exported.indexedDbStorage(name)
      await storage.open()
      await storage.append(['{"type":"bookmark","url":"https://example.com/"}', '{"b":[1,2]}'])
      await storage.close()
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('tiny-event-sourcing')
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
      const values = await new Promise<unknown[]>((resolve, reject) => {
        const request = db
          .transaction('events')
          .objectStore('events')
          .getAll(IDBKeyRange.bound([name, 0], [name, Infinity]))
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
      db.close()
      return values
    }, name)
    // The line as a log file holds it; beside it what the key and the type index are made of (no type when it is not a string).
    expect(stored).toEqual([
      { log: name, index: 0, type: 'bookmark', line: JSON.stringify({ type: 'bookmark', url: 'https://example.com/', index: 0 }) },
      { log: name, index: 1, line: JSON.stringify({ b: [1, 2], index: 1 }) },
    ])
  })

  it('writes a batch all or nothing: a reader sees none of it or all of it', async () => {
    const seen = await page.evaluate(async (name) => {
      const writer = window.exported.indexedDbStorage(name)
      await writer.open()
      const batch = Array.from({ length: 3000 }, (_, n) => JSON.stringify({ n }))
      let writing = true
      const writes = (async () => {
        for (let i = 0; i < 3; i++) await writer.append(batch)
        writing = false
      })()
      const lengthsSeen = new Set<number>()
      while (writing) {
        const db = await new Promise<IDBDatabase>((resolve, reject) => {
          const request = indexedDB.open('tiny-event-sourcing')
          request.onsuccess = () => resolve(request.result)
          request.onerror = () => reject(request.error)
        })
        const count = await new Promise<number>((resolve, reject) => {
          const request = db
            .transaction('events')
            .objectStore('events')
            .count(IDBKeyRange.bound([name, 0], [name, Infinity]))
          request.onsuccess = () => resolve(request.result)
          request.onerror = () => reject(request.error)
        })
        db.close()
        lengthsSeen.add(count)
      }
      await writes
      await writer.close()
      return [...lengthsSeen]
    }, uniqueName())
    for (const length of seen) expect([0, 3000, 6000, 9000]).toContain(length)
  })

  it('reports a damaged record instead of skipping it', async () => {
    const seen = await page.evaluate(async (name) => {
      const storage = window.exported.indexedDbStorage(name)
      await storage.open()
      await storage.append(['{"n":0}', '{"n":1}', '{"n":2}'])
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('tiny-event-sourcing')
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
      const damage = async (change: (store: IDBObjectStore) => void) => {
        const transaction = db.transaction('events', 'readwrite')
        change(transaction.objectStore('events'))
        await new Promise((resolve) => (transaction.oncomplete = resolve))
      }
      const readError = async () => {
        const delivered: number[] = []
        try {
          for await (const batch of storage.read(0)) for (const event of batch) delivered.push(event.index)
          return { delivered }
        } catch (error) {
          const corrupt = error as InstanceType<typeof window.exported.CorruptLogError>
          return { delivered, isCorrupt: error instanceof window.exported.CorruptLogError, code: corrupt.code, message: corrupt.message }
        }
      }
      await damage((store) => store.put({ log: name, index: 1, line: '{"n":1,"ind' }, [name, 1]))
      const notJson = await readError()
      await damage((store) => store.put({ log: name, index: 1, line: '{"n":1,"index":7}' }, [name, 1]))
      const wrongIndex = await readError()
      await damage((store) => store.put('{"n":1,"index":1}', [name, 1]))
      const noRecord = await readError()
      await damage((store) => store.delete([name, 1]))
      const missing = await readError()
      await storage.close()
      db.close()
      return { notJson, wrongIndex, noRecord, missing }
    }, uniqueName())
    for (const report of [seen.notJson, seen.wrongIndex, seen.noRecord, seen.missing]) {
      expect(report).toMatchObject({ isCorrupt: true, code: 'LOG_CORRUPT' })
      expect(report.delivered).toEqual([])
      expect(report.message).toContain('test-log-')
      expect(report.message).toContain('event 1')
    }
    for (const report of [seen.notJson, seen.wrongIndex, seen.noRecord, seen.missing])
      expect(report.message).toContain('event 1 is missing or not an event with that index')
    expect(seen.notJson.message).toContain('{"n":1,"ind')
    expect(seen.wrongIndex.message).toContain('{"n":1,"index":7}')
    expect(seen.noRecord.message).toContain('"{\\"n\\":1,\\"index\\":1}"')
    expect(seen.missing.message).toContain('{"n":2,"index":2}')
  })

  it('refuses appends when read-only or closed', async () => {
    const seen = await page.evaluate(async (name) => {
      const follower = window.exported.indexedDbStorage(name)
      await follower.open({ readOnly: true })
      const readOnly = await follower.append(['{}']).then(
        () => 'written',
        (error: Error) => error.message,
      )
      await follower.close()
      const writer = window.exported.indexedDbStorage(name)
      await writer.open()
      await writer.close()
      const closed = await writer.append(['{}']).then(
        () => 'written',
        (error: { code?: string }) => error.code,
      )
      return { readOnly, closed }
    }, uniqueName())
    expect(seen.readOnly).toContain('read-only')
    expect(seen.closed).toBe('LOG_CLOSED')
  })
})

describe('fsStoreBackend in the browser build, beyond the StateStoreBackend contract', () => {
  it('reports a damaged snapshot with CorruptStateError and leaves it as it is; refuses a state JSON cannot store', async () => {
    const page = await openHarness()
    const seen = await page.evaluate(async (name) => {
      const { fsStoreBackend, CorruptStateError } = window.exported
      const backend = fsStoreBackend<unknown>(name)
      await backend.write({ _version: 0, state: 'kept' })
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      const refused = await backend.write({ _version: 1, state: cyclic }).then(
        () => 'written',
        (error: Error) => (error instanceof TypeError ? 'a TypeError' : error.name),
      )
      const afterRefusal = await backend.read()
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('tiny-event-sourcing')
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
      const rawSnapshot = async (change?: (store: IDBObjectStore) => void) => {
        const transaction = db.transaction('snapshots', 'readwrite')
        change?.(transaction.objectStore('snapshots'))
        const request = transaction.objectStore('snapshots').get(name)
        await new Promise((resolve) => (transaction.oncomplete = resolve))
        return request.result as unknown
      }
      const damaged = await rawSnapshot((store) => store.put('{"_version":3,"sta', name))
      const report = await backend.read().then(
        () => undefined,
        (error: InstanceType<typeof CorruptStateError>) => ({
          isCorrupt: error instanceof CorruptStateError,
          code: error.code,
          message: error.message,
        }),
      )
      const leftAsItWas = (await rawSnapshot()) === damaged
      db.close()
      return { refused, afterRefusal, report, leftAsItWas }
    }, `${uniqueName()}.json`)
    expect(seen.refused).toBe('a TypeError')
    expect(seen.afterRefusal).toEqual({ _version: 0, state: 'kept' })
    expect(seen.report).toMatchObject({ isCorrupt: true, code: 'STATE_CORRUPT' })
    expect(seen.report?.message).toContain('.json')
    expect(seen.leftAsItWas).toBe(true)
    await page.close()
  })
})

describe('state stores in the browser build', () => {
  it('save their pending state when the page is left, as Node saves it on exit: reload, or tab closed', async () => {
    // A long writeInterval leaves the second update pending: only leaving the page can save it.
    const leaveWithPendingUpdate = (page: Page, name: string) =>
      page.evaluate(async (name) => {
        const { initStateStore, fsStoreBackend } = window.tinyEventSourcing
        const store = await initStateStore({ storeBackend: fsStoreBackend(name, { n: 0 }), writeInterval: 600_000 })
        store.update({ n: 1 }, 0)
        await store.flush()
        store.update({ n: 2 }, 1)
        window.kept.store = store
      }, name)
    const storedVersion = (page: Page, name: string) =>
      page.evaluate(async (name) => (await window.tinyEventSourcing.fsStoreBackend(name).read())?._version, name)

    const reloaded = await openHarness()
    const reloadedName = `${uniqueName()}-reload.json`
    await leaveWithPendingUpdate(reloaded, reloadedName)
    expect(await storedVersion(reloaded, reloadedName)).toBe(0)
    await reloaded.reload()
    await reloaded.waitForFunction(() => window.harnessReady === true)
    expect(await storedVersion(reloaded, reloadedName)).toBe(1)
    await reloaded.close()

    const closed = await openHarness()
    const closedName = `${uniqueName()}-close.json`
    await leaveWithPendingUpdate(closed, closedName)
    await closed.close()
    const later = await openHarness()
    expect(await storedVersion(later, closedName)).toBe(1)
    await later.close()
  })
})

describe('initLog({ filename }) in the browser build', () => {
  it('keeps the log in IndexedDB: replay, then push; events({ after }); close and reopen', async () => {
    const page = await openHarness()
    const seen = await page.evaluate(async (filename) => {
      const { initLog } = window.tinyEventSourcing
      const log = await initLog<{ type: string; n: number }>({ filename })
      await log.append({ type: 'a', n: 0 })
      await log.append({ type: 'a', n: 1 })
      const delivered: number[] = []
      const following = (async () => {
        for await (const event of log.events()) {
          delivered.push(event.n)
          if (delivered.length === 4) break
        }
      })()
      await Promise.all([log.append({ type: 'b', n: 2 }), log.append({ type: 'b', n: 3 })])
      await following
      await log.close()
      const reopened = await initLog<{ type: string; n: number }>({ filename })
      const after1: number[] = []
      for await (const event of reopened.events({ after: 1 })) {
        after1.push(event.index)
        if (event.index === 3) break
      }
      const length = reopened.length
      await reopened.close()
      return { delivered, after1, length }
    }, uniqueName())
    expect(seen).toEqual({ delivered: [0, 1, 2, 3], after1: [2, 3], length: 4 })
    await page.close()
  })
})

describe('two tabs of one site', () => {
  it('lets one tab write; a second tab gets LogLockedError, or follows read-only and sees every append live', async () => {
    const name = uniqueName()
    const writer = await openHarness()
    const other = await openHarness()
    await writer.evaluate(async (filename) => {
      window.kept.log = await window.tinyEventSourcing.initLog({ filename })
      await window.kept.log.append({ n: 0 })
    }, name)

    await expectWriterRefused(other, name)
    await followInPage(other, name)
    await writer.evaluate(async () => {
      await window.kept.log.append({ n: 1 })
      await Promise.all([window.kept.log.append({ n: 2 }), window.kept.log.append({ n: 3 })])
    })
    await other.waitForFunction(() => window.kept.received.length >= 4, undefined, { timeout: 30_000 })
    expect(await other.evaluate(() => window.kept.received)).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
      [3, 3],
    ])
    const followerAppend = await other.evaluate(() =>
      window.kept.follower.append({ n: 99 }).then(
        () => 'written',
        (error: Error) => error.message,
      ),
    )
    expect(followerAppend).toContain('readOnly: true')
    await writer.close()
    await other.close()
  })

  it('hands the log over when the writing tab closes it, closes, or reloads', async () => {
    const name = uniqueName()
    const first = await openHarness()
    const second = await openHarness()
    const openWriter = (page: Page) =>
      page.evaluate(async (filename) => {
        try {
          window.kept.log = await window.tinyEventSourcing.initLog({ filename })
          return 'writing'
        } catch (error) {
          return (error as { code?: string }).code
        }
      }, name)

    expect(await openWriter(first)).toBe('writing')
    expect(await openWriter(second)).toBe('LOG_LOCKED')
    // A second writer in the writing tab itself is refused too; the first one carries on.
    expect(await openWriter(first)).toBe('LOG_LOCKED')
    expect(await first.evaluate(() => window.kept.log.append({ from: 'first' }).then((event: { index: number }) => event.index))).toBe(0)
    await first.evaluate(() => window.kept.log.close())
    expect(await openWriter(second)).toBe('writing')

    // A reloaded tab gets its own lock back.
    await second.evaluate(() => window.kept.log.append({ from: 'before reload' }))
    await second.reload()
    await second.waitForFunction(() => window.harnessReady === true)
    await second.evaluate(() => {
      window.kept = {}
    })
    expect(await openWriter(second)).toBe('writing')
    expect(await second.evaluate(() => window.kept.log.length)).toBe(2)

    // Closing the tab releases its lock without close(); the browser does so shortly after.
    await second.close()
    const takenOver = await first.evaluate(async (filename) => {
      for (let attempt = 0; attempt < 200; attempt++) {
        try {
          window.kept.log = await window.tinyEventSourcing.initLog({ filename })
          return attempt
        } catch (error) {
          if ((error as { code?: string }).code !== 'LOG_LOCKED') throw error
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
      return -1
    }, name)
    expect(takenOver).toBeGreaterThanOrEqual(0)
    expect(await first.evaluate(() => window.kept.log.append({ from: 'first again' }).then((event: { index: number }) => event.index))).toBe(2)
    await first.close()
  })
})
