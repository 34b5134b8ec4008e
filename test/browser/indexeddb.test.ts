/**
 * The IndexedDB log storage and the browser build, in real headless Chromium:
 * the LogStorage properties checked in a page, then two tabs of one site.
 */
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, startServer, type Chromium, type StaticServer } from './harness.js'

let server: StaticServer
let chromium: Chromium

beforeAll(async () => {
  server = await startServer()
  chromium = await launchChromium()
}, 120_000)

afterAll(async () => {
  await chromium?.dispose()
  await server?.close()
}, 60_000)

async function openHarness(): Promise<Page> {
  const page = await chromium.context.newPage()
  await page.goto(`${server.url}/pages/harness.html`)
  await page.waitForFunction(() => window.harnessReady === true)
  await page.evaluate(() => {
    window.kept = {}
  })
  return page
}

let counter = 0
function uniqueName(): string {
  return `test-log-${process.pid}-${++counter}`
}

describe('indexedDbStorage (the LogStorage properties, in the page)', () => {
  let page: Page
  beforeAll(async () => {
    page = await openHarness()
  }, 60_000)

  it('starts empty, gives consecutive indices and reads back from any index', async () => {
    const seen = await page.evaluate(async (name) => {
      const storage = window.exported.indexedDbStorage(name)
      const initialLength = await storage.open()
      const firstOfA = await storage.append(['{"type":"a"}', '{"type":"b","n":1}'])
      const firstOfB = await storage.append(['{}'])
      const readAll = async (from: number) => {
        const events: unknown[] = []
        for await (const batch of storage.read(from)) events.push(...batch)
        return events
      }
      const result = { initialLength, firstOfA, firstOfB, all: await readAll(0), fromOne: await readAll(1), pastTheEnd: await readAll(3) }
      await storage.close()
      return result
    }, uniqueName())
    expect(seen).toEqual({
      initialLength: 0,
      firstOfA: 0,
      firstOfB: 2,
      all: [
        { type: 'a', index: 0 },
        { type: 'b', n: 1, index: 1 },
        { index: 2 },
      ],
      fromOne: [
        { type: 'b', n: 1, index: 1 },
        { index: 2 },
      ],
      pastTheEnd: [],
    })
  })

  it('stores each event as the exact line a log file would hold', async () => {
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
        const request = db.transaction('events').objectStore('events').getAll(IDBKeyRange.bound([name, 0], [name, Infinity]))
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
      db.close()
      return values
    }, uniqueName())
    expect(stored).toEqual([
      JSON.stringify({ type: 'bookmark', url: 'https://example.com/', index: 0 }),
      JSON.stringify({ b: [1, 2], index: 1 }),
    ])
  })

  it('keeps events after close: a new storage on the same name continues the log', async () => {
    const seen = await page.evaluate(async (name) => {
      const first = window.exported.indexedDbStorage(name)
      await first.open()
      await first.append(['{"n":0}', '{"n":1}'])
      await first.close()
      const second = window.exported.indexedDbStorage(name)
      const reopenedLength = await second.open()
      const next = await second.append(['{"n":2}'])
      const events: unknown[] = []
      for await (const batch of second.read(0)) events.push(...batch)
      await second.close()
      return { reopenedLength, next, events }
    }, uniqueName())
    expect(seen).toEqual({
      reopenedLength: 2,
      next: 2,
      events: [
        { n: 0, index: 0 },
        { n: 1, index: 1 },
        { n: 2, index: 2 },
      ],
    })
  })

  it('hands out fresh objects on every read', async () => {
    const seen = await page.evaluate(async (name) => {
      const storage = window.exported.indexedDbStorage(name)
      await storage.open()
      await storage.append(['{"list":[1]}'])
      const read = async () => {
        for await (const batch of storage.read(0)) return batch[0] as unknown as { list: number[] }
        throw new Error('nothing read')
      }
      const first = await read()
      first.list.push(2)
      const second = await read()
      await storage.close()
      return { same: first === second, second }
    }, uniqueName())
    expect(seen).toEqual({ same: false, second: { list: [1], index: 0 } })
  })

  it('reads a long log in several batches, in order, from any index', async () => {
    const seen = await page.evaluate(async (name) => {
      const storage = window.exported.indexedDbStorage(name)
      await storage.open()
      await storage.append(Array.from({ length: 2500 }, (_, n) => JSON.stringify({ n })))
      const summarize = async (from: number) => {
        let batches = 0
        const indices: number[] = []
        let matching = true
        for await (const batch of storage.read(from)) {
          batches++
          for (const event of batch) {
            indices.push(event.index)
            if (event.n !== event.index) matching = false
          }
        }
        const inOrder = indices.every((index, i) => index === from + i)
        return { batches, count: indices.length, inOrder, matching }
      }
      const result = { fromStart: await summarize(0), from2000: await summarize(2000) }
      await storage.close()
      return result
    }, uniqueName())
    expect(seen.fromStart.count).toBe(2500)
    expect(seen.fromStart.batches).toBeGreaterThan(1)
    expect(seen.fromStart.inOrder && seen.fromStart.matching).toBe(true)
    expect(seen.from2000).toMatchObject({ count: 500, inOrder: true, matching: true })
  })

  it('refuses a batch whose expectedLastIndex is stale, writing nothing', async () => {
    const seen = await page.evaluate(async (name) => {
      const storage = window.exported.indexedDbStorage(name)
      await storage.open()
      await storage.append(['{"n":0}', '{"n":1}'])
      let refused: Record<string, unknown> = {}
      try {
        await storage.append(['{"n":"stale"}'], { expectedLastIndex: 0 })
      } catch (error) {
        const conflict = error as InstanceType<typeof window.exported.AppendConflictError>
        refused = { isConflict: error instanceof window.exported.AppendConflictError, code: conflict.code, expected: conflict.expectedLastIndex, actual: conflict.actualLastIndex }
      }
      const accepted = await storage.append(['{"n":2}'], { expectedLastIndex: 1 })
      const onEmpty = window.exported.indexedDbStorage(`${name}-empty`)
      await onEmpty.open()
      const acceptedOnEmpty = await onEmpty.append(['{}'], { expectedLastIndex: -1 })
      await onEmpty.close()
      const events: unknown[] = []
      for await (const batch of storage.read(0)) events.push(...batch)
      await storage.close()
      return { refused, accepted, acceptedOnEmpty, events }
    }, uniqueName())
    expect(seen).toEqual({
      refused: { isConflict: true, code: 'APPEND_CONFLICT', expected: 0, actual: 1 },
      accepted: 2,
      acceptedOnEmpty: 0,
      events: [
        { n: 0, index: 0 },
        { n: 1, index: 1 },
        { n: 2, index: 2 },
      ],
    })
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
          const request = db.transaction('events').objectStore('events').count(IDBKeyRange.bound([name, 0], [name, Infinity]))
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
      await damage((store) => store.put('{"n":1,"ind', [name, 1]))
      const notJson = await readError()
      await damage((store) => store.put('{"n":1,"index":7}', [name, 1]))
      const wrongIndex = await readError()
      await damage((store) => store.delete([name, 1]))
      const missing = await readError()
      await storage.close()
      db.close()
      return { notJson, wrongIndex, missing }
    }, uniqueName())
    for (const report of [seen.notJson, seen.wrongIndex, seen.missing]) {
      expect(report).toMatchObject({ isCorrupt: true, code: 'LOG_CORRUPT' })
      expect(report.delivered).toEqual([])
      expect(report.message).toContain('test-log-')
      expect(report.message).toContain('event 1')
    }
    expect(seen.notJson.message).toContain('not the JSON text of an object')
    expect(seen.wrongIndex.message).toContain('says its index is 7')
    expect(seen.missing.message).toContain('event 1 is missing')
  })

  it('refuses appends when read-only or closed', async () => {
    const seen = await page.evaluate(async (name) => {
      const follower = window.exported.indexedDbStorage(name, { readOnly: true })
      await follower.open()
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

  it("tells a follower of another writer's appends (watch)", async () => {
    const lengths = await page.evaluate(async (name) => {
      const writer = window.exported.indexedDbStorage(name)
      await writer.open()
      await writer.append(['{"n":0}'])
      const follower = window.exported.indexedDbStorage(name, { readOnly: true })
      await follower.open()
      const heard: number[] = []
      let wake = () => {}
      const stop = follower.watch!((length) => {
        heard.push(length)
        wake()
      })
      await writer.append(['{"n":1}', '{"n":2}'])
      while (heard.length === 0) await new Promise<void>((resolve) => (wake = resolve))
      stop()
      await writer.close()
      await follower.close()
      return heard
    }, uniqueName())
    expect(lengths).toEqual([3])
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

    const refused = await other.evaluate(async (filename) => {
      try {
        await window.tinyEventSourcing.initLog({ filename })
        return { opened: true }
      } catch (error) {
        const locked = error as InstanceType<typeof window.exported.LogLockedError>
        return { isLocked: error instanceof window.exported.LogLockedError, code: locked.code, message: locked.message }
      }
    }, name)
    expect(refused).toMatchObject({ isLocked: true, code: 'LOG_LOCKED' })
    expect(refused.message).toContain(name)
    expect(refused.message).toContain('readOnly: true')

    await other.evaluate(async (filename) => {
      const follower = await window.tinyEventSourcing.initLog<{ n: number }>({ filename, readOnly: true })
      window.kept.follower = follower
      window.kept.received = []
      void (async () => {
        for await (const event of follower.events()) window.kept.received.push([event.index, event.n])
      })()
    }, name)
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
    expect(await second.evaluate(() => window.kept.log.length)).toBe(1)

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
    expect(await first.evaluate(() => window.kept.log.append({ from: 'first again' }).then((event: { index: number }) => event.index))).toBe(1)
    await first.close()
  })
})
