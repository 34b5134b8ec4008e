/**
 * Filtered reads, conditional appends, atomic batches and event metadata on
 * the IndexedDB storage, in real headless Chromium.
 */
import type { Page } from 'playwright-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { useBrowser } from './harness.js'

const { openHarness } = useBrowser()

let counter = 0
function uniqueName(): string {
  return `filters-${process.pid}-${++counter}`
}

let page: Page
beforeAll(async () => {
  page = await openHarness()
}, 60_000)

describe('read(from, { types }) through the type index', () => {
  it('yields exactly the events of those types, in index order, across batches; a where alone is left to the log', async () => {
    const seen = await page.evaluate(async (name) => {
      const storage = window.exported.indexedDbStorage(name)
      await storage.open()
      const types = ['bookmark', 'info', 'visit']
      // 3,000 events: a third of each type, so each type fills more than one read batch of 1,024.
      const records = Array.from({ length: 9000 }, (_, n) => JSON.stringify({ type: types[n % 3], n }))
      records.push('{"n":"untyped"}', '{"type":7,"n":"numeric type"}')
      await storage.append(records)
      const read = async (from: number, filter?: { types?: string[]; where?: Record<string, unknown> }) => {
        const indices: number[] = []
        const types: unknown[] = []
        for await (const batch of storage.read(from, filter)) {
          for (const event of batch) {
            indices.push(event.index)
            types.push(event.type)
          }
        }
        return { indices, types: [...new Set(types)] }
      }
      const twoTypes = await read(0, { types: ['visit', 'bookmark', 'visit'] })
      const fromMiddle = await read(4000, { types: ['info'] })
      const none = await read(0, { types: ['nothing-of-this-type'] })
      const whereOnly = await read(8990, { where: { n: 8995 } })
      await storage.close()
      return { twoTypes, fromMiddle, none, whereOnly }
    }, uniqueName())
    const expected = Array.from({ length: 9000 }, (_, n) => n).filter((n) => n % 3 !== 1)
    expect(seen.twoTypes.indices).toEqual(expected)
    expect(seen.twoTypes.types.sort()).toEqual(['bookmark', 'visit'])
    expect(seen.fromMiddle.indices).toEqual(Array.from({ length: 9000 }, (_, n) => n).filter((n) => n % 3 === 1 && n >= 4000))
    expect(seen.none.indices).toEqual([])
    expect(seen.whereOnly.indices).toEqual([8990, 8991, 8992, 8993, 8994, 8995, 8996, 8997, 8998, 8999, 9000, 9001])
  })

  it('leaves out no event stored while it reads, even of a type that had none when the read began', async () => {
    const seen = await page.evaluate(async (name) => {
      const storage = window.exported.indexedDbStorage(name)
      await storage.open()
      await storage.append(Array.from({ length: 3000 }, (_, n) => JSON.stringify({ type: 'b', n })))
      const indices: number[] = []
      let appended = false
      for await (const batch of storage.read(0, { types: ['a', 'b'] })) {
        for (const event of batch) indices.push(event.index)
        if (!appended) {
          // After the first batch: one of each type, both past where the read is.
          appended = true
          await storage.append(['{"type":"a"}', '{"type":"b"}'])
        }
      }
      await storage.close()
      return { count: indices.length, last: indices.slice(-3), ordered: indices.every((index, i) => i === 0 || index > indices[i - 1]!) }
    }, uniqueName())
    expect(seen).toEqual({ count: 3002, last: [2999, 3000, 3001], ordered: true })
  })

  it('serves log.events({ types, where }) with what matchesFilter selects', async () => {
    const seen = await page.evaluate(async (filename) => {
      const log = await window.tinyEventSourcing.initLog<{ type: string; url: string }>({ filename })
      for (let n = 0; n < 30; n++) await log.append({ type: n % 2 ? 'info' : 'bookmark', url: `https://${n % 5}.example` })
      await log.close()
      const reopened = await window.tinyEventSourcing.initLog<{ type: string; url: string }>({ filename })
      const picked: number[] = []
      for await (const event of reopened.events({ types: ['bookmark'], where: { url: 'https://2.example' }, until: reopened.length - 1 })) {
        picked.push(event.index)
      }
      await reopened.close()
      return picked
    }, uniqueName())
    expect(seen).toEqual([2, 12, 22])
  })
})

describe('appends under a condition', () => {
  it('lets exactly one of two appends about the same URL land; the other names the winner and writes nothing', async () => {
    const seen = await page.evaluate(async (filename) => {
      const log = await window.tinyEventSourcing.initLog<{ type: string; url: string }>({ filename })
      await log.append({ type: 'bookmark', url: 'https://old.example' })
      const after = log.length - 1
      const url = 'https://same.example'
      const condition = { types: ['bookmark'], where: { url }, after }
      const outcomes = await Promise.allSettled([log.append({ type: 'bookmark', url }, { condition }), log.append({ type: 'bookmark', url }, { condition })])
      const result = outcomes.map((outcome) =>
        outcome.status === 'fulfilled'
          ? { landed: outcome.value.index }
          : {
              code: outcome.reason.code,
              message: outcome.reason.message,
              conflictingIndex: outcome.reason.conflictingEvent?.index,
              actualLastIndex: outcome.reason.actualLastIndex,
            },
      )
      const length = log.length
      await log.close()
      return { result, length }
    }, uniqueName())
    expect(seen.length).toBe(2)
    expect(seen.result[0]).toEqual({ landed: 1 })
    expect(seen.result[1]).toMatchObject({ code: 'APPEND_CONFLICT', conflictingIndex: 1, actualLastIndex: 1 })
    expect((seen.result[1] as { message: string }).message).toContain('event 1 ("bookmark")')
  })

  it('lets appends about different URLs all land, also as appendAll batches', async () => {
    const seen = await page.evaluate(async (filename) => {
      const log = await window.tinyEventSourcing.initLog<{ type: string; url: string }>({ filename })
      await log.append({ type: 'bookmark', url: 'https://0.example' })
      const after = log.length - 1
      const outcomes = await Promise.allSettled(
        [1, 2, 3, 4].map((n) => {
          const url = `https://${n}.example`
          const condition = { types: ['bookmark', 'unbookmark'], where: { url }, after }
          return n % 2
            ? log.append({ type: 'bookmark', url }, { condition })
            : log.appendAll(
                [
                  { type: 'bookmark', url },
                  { type: 'unbookmark', url },
                ],
                { condition },
              )
        }),
      )
      const length = log.length
      await log.close()
      return { statuses: outcomes.map((outcome) => outcome.status), length }
    }, uniqueName())
    expect(seen).toEqual({ statuses: ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'], length: 7 })
  })

  it('checks every kind of condition against the events stored after `after`: types, where alone, neither; the first match is named', async () => {
    const seen = await page.evaluate(async (name) => {
      const storage = window.exported.indexedDbStorage(name)
      await storage.open()
      await storage.append(['{"type":"a","k":1}', '{"type":"b","k":2}', '{"type":"c","k":1}', '{"k":1}', '{"type":"a","k":3}'])
      const attempt = (condition: { types?: string[]; where?: Record<string, unknown>; after: number }) =>
        storage.append(['{"type":"z"}'], { condition }).then(
          (first: number) => ({ landed: first }),
          (error: { code?: string; conflictingEvent?: { index: number } }) => ({ code: error.code, conflicting: error.conflictingEvent?.index }),
        )
      const outcomes = {
        typesFirstOfTwo: await attempt({ types: ['c', 'b'], after: 0 }),
        typesAndWhere: await attempt({ types: ['a', 'c'], where: { k: 1 }, after: 0 }),
        whereAlone: await attempt({ where: { k: 1 }, after: 2 }),
        everything: await attempt({ after: 3 }),
        nothingAfter: await attempt({ types: ['a'], where: { k: 1 }, after: 2 }),
      }
      await storage.close()
      return outcomes
    }, uniqueName())
    expect(seen).toEqual({
      typesFirstOfTwo: { code: 'APPEND_CONFLICT', conflicting: 1 },
      typesAndWhere: { code: 'APPEND_CONFLICT', conflicting: 2 },
      whereAlone: { code: 'APPEND_CONFLICT', conflicting: 3 },
      everything: { code: 'APPEND_CONFLICT', conflicting: 4 },
      nothingAfter: { landed: 5 },
    })
  })
})

describe('log.appendAll() batches', () => {
  it('are one transaction: a reader sees all of a batch or none of it, and a refused batch leaves nothing', async () => {
    const seen = await page.evaluate(async (filename) => {
      const log = await window.tinyEventSourcing.initLog<{ n: number }>({ filename })
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('tiny-event-sourcing')
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
      let writing = true
      const writes = (async () => {
        for (let i = 0; i < 3; i++) await log.appendAll(Array.from({ length: 2000 }, (_, n) => ({ n })))
        writing = false
      })()
      const lengthsSeen = new Set<number>()
      while (writing) {
        lengthsSeen.add(
          await new Promise<number>((resolve, reject) => {
            const request = db
              .transaction('events')
              .objectStore('events')
              .count(IDBKeyRange.bound([filename, 0], [filename, Number.POSITIVE_INFINITY]))
            request.onsuccess = () => resolve(request.result)
            request.onerror = () => reject(request.error)
          }),
        )
      }
      await writes
      db.close()
      const refused = await log.appendAll([{ n: -1 }, { n: -2 }], { expectedLastIndex: 0 }).then(
        () => 'written',
        (error: { code?: string }) => error.code,
      )
      const length = log.length
      await log.close()
      return { lengthsSeen: [...lengthsSeen], refused, length }
    }, uniqueName())
    for (const length of seen.lengthsSeen) expect([0, 2000, 4000, 6000]).toContain(length)
    expect(seen.refused).toBe('APPEND_CONFLICT')
    expect(seen.length).toBe(6000)
  })
})
