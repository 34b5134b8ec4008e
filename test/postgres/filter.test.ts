/**
 * Filters in SQL: filtered reads and conditional appends select exactly the
 * events `matchesFilter` selects, on the same events, and a condition is
 * checked atomically with the append it guards.
 */
import { describe, expect, it } from 'vitest'
import { AppendConflictError, initLog } from '../../src/index.js'
import { matchesFilter, type AppendCondition, type EventFilter } from '../../src/core/filter.js'
import type { LogStorage } from '../../src/core/log-storage.js'
import { postgresStorage } from '../../src/postgres/index.js'
import { usePostgres } from './server.js'

const server = usePostgres()
let logCount = 0
const freshLogName = () => `filter-log-${++logCount}`

type Stored = Record<string, unknown> & { index: number }

async function readAll(storage: LogStorage, filter?: EventFilter, from = 0): Promise<Stored[]> {
  const events: Stored[] = []
  for await (const batch of storage.read(from, filter)) events.push(...batch)
  return events
}

async function opened(log = freshLogName(), pool = server.pool({ max: 3 })): Promise<LogStorage> {
  const storage = postgresStorage({ pool, log })
  await storage.open()
  return storage
}

// Events where JSON equality, types and PostgreSQL's JSON operators could part ways.
const tricky: Record<string, unknown>[] = [
  { type: 'bookmark', url: 'https://a.example' },
  { type: 'bookmark', url: 'https://b.example' },
  { type: 'info', url: 'https://a.example', title: 'A' },
  { type: 5, url: 'https://a.example' },
  { type: '5' },
  { url: 'https://a.example' },
  { type: null, url: null },
  { type: 'bookmark', url: 'https://a.example', n: 1 },
  { type: 'bookmark', url: 'https://a.example', n: 1.5 },
  { type: 'bookmark', n: 10, tags: ['x', 'y'] },
  { type: 'bookmark', n: 10, tags: ['y', 'x'] },
  { type: 'bookmark', owner: { id: 1, name: 'ann' } },
  { type: 'bookmark', owner: { name: 'ann', id: 1 } },
  { type: 'bookmark', owner: { name: 'ann', id: 1, extra: true } },
  { type: 'bookmark', flag: true },
  { type: 'bookmark', flag: 'true' },
  { type: 'bookmark', flag: 1 },
  { type: 'bookmark', text: 'nul \u0000 inside', other: 'x' },
  { type: 'bookmark', text: 'back\\u0000slash' },
  { type: 'bookmark', text: '' },
  { type: 'Bookmark', text: 'ünï 😀' },
  { type: 'bookmark', url: 'https://a.example', _meta: { at: '2026-12-01T21:30:00.123Z', correlationId: 'c-1' } },
  { type: 'bookmark', index: 3 },
  { type: 'bookmark', nested: { list: [1, { deep: null }] } },
  { type: 'bookmark', big: 12345678901234568 },
  { type: 'bookmark', small: -0.000001 },
  { type: 'info', url: 'https://b.example' },
  { type: 'bookmark', a: 1, b: 2, c: 3, d: 4 },
  { type: 'bookmark', a: 1, b: 2, c: 3, d: 5 },
  { type: 'note', a: 1, b: 2, c: 3, d: 5 },
]

// One filter per way of selecting: types, where on scalars, arrays, objects in
// another key order, null, missing, booleans against look-alikes, and both.
const filters: EventFilter[] = [
  { types: ['bookmark'] },
  { types: ['bookmark', 'info'] },
  { types: ['5'] },
  { types: ['Bookmark'] },
  { types: ['nothing'] },
  { where: { url: 'https://a.example' } },
  { where: { url: null } },
  { where: { type: null } },
  { where: { n: 1 } },
  { where: { n: 1.5 } },
  { where: { tags: ['x', 'y'] } },
  { where: { owner: { id: 1, name: 'ann' } } },
  { where: { flag: true } },
  { where: { flag: 'true' } },
  { where: { text: '' } },
  { where: { text: 'ünï 😀' } },
  { where: { text: 'back\\u0000slash' } },
  { where: { other: 'x' } },
  { where: { _meta: { correlationId: 'c-1', at: '2026-12-01T21:30:00.123Z' } } },
  { where: { index: 3 } },
  { where: { nested: { list: [1, { deep: null }] } } },
  { where: { big: 12345678901234568 } },
  { where: { small: -0.000001 } },
  { where: { type: 5 } },
  { where: { missing: 'x' } },
  { where: {} },
  { types: ['bookmark'], where: { url: 'https://a.example' } },
  { types: ['bookmark', 'info'], where: { url: 'https://b.example' } },
  { types: ['info'], where: { url: 'https://a.example', title: 'A' } },
  // One to five fields: each count has a query of its own in the conditional append function.
  { where: { a: 1, b: 2 } },
  { where: { a: 1, b: 2, c: 3 } },
  { where: { a: 1, b: 2, c: 3, d: 4 } },
  { where: { a: 1, b: 2, c: 3, d: 5, type: 'bookmark' } },
  { types: ['note', 'info'], where: { a: 1, b: 2, c: 3, d: 5 } },
  { types: ['bookmark'], where: { a: 1, b: 2, c: 3, d: 6 } },
]

/** What the log itself would select: `matchesFilter` on each delivered event. */
const expected = (events: Stored[], filter: EventFilter, after = -1) =>
  events.filter((event) => event.index > after && matchesFilter(event, filter)).map((event) => event.index)

describe('PostgreSQL filters', () => {
  it('reads exactly the events matchesFilter selects, for every kind of filter', async () => {
    const storage = await opened()
    await storage.append(tricky.map((event) => JSON.stringify(event)))
    const all = await readAll(storage)
    expect(all).toHaveLength(tricky.length)
    for (const filter of filters) {
      const read = await readAll(storage, filter)
      expect({ filter, indices: read.map((event) => event.index) }).toEqual({ filter, indices: expected(all, filter) })
      // Each is the stored event, as an unfiltered read gives it.
      for (const event of read) expect(event).toEqual(all[event.index])
    }
    // And from a later position.
    for (const filter of filters) {
      expect((await readAll(storage, filter, 10)).map((event) => event.index)).toEqual(expected(all, filter, 9))
    }
    await storage.close()
  })

  it('conflicts on exactly the events matchesFilter selects after the condition’s index', async () => {
    const storage = await opened()
    await storage.append(tricky.map((event) => JSON.stringify(event)))
    const all = await readAll(storage)
    let length = all.length
    for (const filter of filters) {
      for (const after of [-1, 9, 20, length - 1]) {
        const condition: AppendCondition = { ...filter, after }
        const matches = expected(all, filter, after)
        const outcome = await storage.append(['{"type":"decision"}'], { condition }).then(
          (first) => first,
          (error: unknown) => error,
        )
        if (matches.length > 0) {
          expect({ condition, outcome }).toEqual({ condition, outcome: expect.any(AppendConflictError) })
          // Naming the first matching event, as stored, and the condition.
          expect(outcome).toMatchObject({ code: 'APPEND_CONFLICT', condition, conflictingEvent: all[matches[0]!], actualLastIndex: length - 1 })
        } else {
          expect({ condition, outcome }).toEqual({ condition, outcome: length })
          all.push({ type: 'decision', index: length })
          length++
        }
      }
    }
    // What was refused was not written.
    expect(await readAll(storage)).toEqual(all)
    await storage.close()
  })

  it('reads filtered logs longer than a read batch and than a range of indices, in order, none missed', async () => {
    const storage = await opened()
    const events: Record<string, unknown>[] = []
    // Dense stretches (more than a batch of matches in one range) and sparse ones (a match every few thousand).
    for (let n = 0; n < 30_000; n++) {
      const dense = n < 6000
      const type = dense ? (n % 2 === 0 ? 'hit' : 'miss') : n % 3001 === 0 ? 'hit' : 'miss'
      events.push({ type, n, url: `u${n % 7}` })
    }
    for (let start = 0; start < events.length; start += 5000) {
      await storage.append(events.slice(start, start + 5000).map((event) => JSON.stringify(event)))
    }
    const all = events.map((event, index) => ({ ...event, index }))
    for (const filter of [{ types: ['hit'] }, { where: { url: 'u3' } }, { types: ['hit'], where: { url: 'u0' } }, { types: ['none'] }]) {
      const read = await readAll(storage, filter)
      expect(read.map((event) => event.index)).toEqual(expected(all, filter))
    }
    expect((await readAll(storage, { types: ['hit'] }, 29_000)).map((event) => event.index)).toEqual(expected(all, { types: ['hit'] }, 28_999))
    await storage.close()
  })

  it('checks expectedLastIndex and the condition together', async () => {
    const storage = await opened()
    await storage.append(['{"type":"bookmark","url":"a"}', '{"type":"bookmark","url":"b"}'])
    const about = (url: string, after: number): AppendCondition => ({ types: ['bookmark'], where: { url }, after })
    // The condition holds but the log moved on.
    await expect(storage.append(['{"type":"x"}'], { condition: about('c', 1), expectedLastIndex: 0 })).rejects.toMatchObject({
      code: 'APPEND_CONFLICT',
      expectedLastIndex: 0,
      actualLastIndex: 1,
    })
    // The last index is right but the condition fails.
    await expect(storage.append(['{"type":"x"}'], { condition: about('b', 0), expectedLastIndex: 1 })).rejects.toMatchObject({
      code: 'APPEND_CONFLICT',
      actualLastIndex: 1,
    })
    expect(await storage.append(['{"type":"x"}'], { condition: about('b', 1), expectedLastIndex: 1 })).toBe(2)
    expect((await readAll(storage)).map((event) => event.index)).toEqual([0, 1, 2])
    await storage.close()
  })

  it('stores a batch all or nothing, with contiguous indices, with or without a condition', async () => {
    const storage = await opened()
    await storage.append(['{"type":"first"}'])
    const condition: AppendCondition = { types: ['never'], after: 0 }
    for (const options of [undefined, { condition }]) {
      // The third record is not JSON: the database refuses the statement, and with it the whole batch.
      await expect(storage.append(['{"type":"a"}', '{"type":"b"}', '{"type":'], options)).rejects.toThrow()
      expect((await readAll(storage)).map((event) => event.type)).toEqual(['first'])
    }
    expect(await storage.append(['{"type":"a"}', '{"type":"b"}', '{"type":"c"}'], { condition })).toBe(1)
    expect(await storage.append(['{"type":"d"}', '{"type":"e"}'])).toBe(4)
    expect((await readAll(storage)).map((event) => `${event.index}${event.type}`)).toEqual(['0first', '1a', '2b', '3c', '4d', '5e'])
    const { rows } = await server.pool().query(`SELECT length::int FROM tiny_event_sourcing.logs WHERE log = $1`, [storage.name.match(/"(.*)"/)![1]])
    expect(rows[0].length).toBe(6)
    await storage.close()
  })

  it('lets exactly one of many racing writers about the same entity win, and every writer about another entity win', async () => {
    const log = freshLogName()
    const writers = await Promise.all(Array.from({ length: 10 }, () => opened(log, server.pool({ max: 2 }))))
    for (let round = 0; round < 10; round++) {
      const last = (await readAll(writers[0]!)).length - 1
      const results = await Promise.allSettled(
        writers.map((writer, w) => {
          // Even writers decide about the same URL; odd ones each about their own.
          const url = w % 2 === 0 ? `same-${round}` : `own-${round}-${w}`
          return writer.append([JSON.stringify({ type: 'bookmark', url, w })], { condition: { types: ['bookmark'], where: { url }, after: last } })
        }),
      )
      const outcome = results.map((result) => result.status)
      expect(outcome.filter((status, w) => w % 2 === 0 && status === 'fulfilled')).toHaveLength(1)
      expect(outcome.filter((status, w) => w % 2 === 1 && status === 'fulfilled')).toHaveLength(5)
      for (const result of results) if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(AppendConflictError)
    }
    const stored = await readAll(writers[0]!)
    expect(stored).toHaveLength(10 * 6)
    expect(stored.map((event) => event.index)).toEqual(Array.from({ length: 60 }, (_, index) => index))
    await Promise.all(writers.map((writer) => writer.close()))
  })

  it('serves the log: events({ types, where }) in SQL, replaying and then tailing, and appendAll with a condition', async () => {
    const pool = server.pool()
    const name = freshLogName()
    const log = await initLog<Record<string, unknown>>({ storage: postgresStorage({ pool, log: name }) })
    await log.appendAll(tricky.map((event) => ({ ...event })).filter((event) => !('_meta' in event) && !('index' in event)))
    const stored: Stored[] = []
    for await (const event of log.events({ until: log.length - 1 })) stored.push(event as Stored)
    // Replayed by a log that did not write them, so every event comes through the storage's SQL.
    const reader = await initLog<Record<string, unknown>>({ storage: postgresStorage({ pool, log: name }) })
    for (const filter of filters) {
      // index and _meta are the log's, not the event's: the log refuses to select by them (the storage, above, is simply exact).
      if (filter.where !== undefined && ('index' in filter.where || '_meta' in filter.where)) {
        expect(() => reader.events(filter)).toThrow(/is the log's, not a field of the event/)
        continue
      }
      const seen: number[] = []
      for await (const event of reader.events({ ...filter, until: reader.length - 1 })) seen.push(event.index)
      expect({ filter, seen }).toEqual({ filter, seen: expected(stored, filter) })
    }
    // Tailing: a filtered iterator waiting in another process's log gets only what matches.
    const follower = await initLog<Record<string, unknown>>({ storage: postgresStorage({ pool: server.pool(), log: name }) })
    const tail = follower.events({ after: log.length - 1, types: ['info'], where: { url: 'https://c.example' } })
    const next = tail.next()
    const condition: AppendCondition = { types: ['info'], where: { url: 'https://c.example' }, after: log.length - 1 }
    const batch = await log.appendAll(
      [
        { type: 'bookmark', url: 'https://c.example' },
        { type: 'info', url: 'https://c.example', title: 'C' },
      ],
      { condition },
    )
    expect(batch.map((event) => event.index)).toEqual([stored.length, stored.length + 1])
    expect((await next).value).toMatchObject({ type: 'info', url: 'https://c.example', index: stored.length + 1 })
    await tail.return?.()
    // The same decision again, from the same index: refused as a whole, nothing written.
    const refused = await log.appendAll([{ type: 'info', url: 'https://c.example', title: 'again' }], { condition }).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(AppendConflictError)
    expect(refused).toMatchObject({ conflictingEvent: { index: stored.length + 1 } })
    expect(log.length).toBe(stored.length + 2)
    await Promise.all([log.close(), follower.close(), reader.close()])
  })
})
