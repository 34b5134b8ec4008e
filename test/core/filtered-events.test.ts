import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { initLog, type Log, type LogStorage, memoryStorage } from '../../src/index.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterAll(removeTempDirs)

type Event = { type: string; url?: string; n: number; tags?: unknown }

/** The events of `iterator` up to the one with index `last` (then it is released). */
async function until<E extends { index: number }>(iterator: AsyncIterableIterator<E>, last: number): Promise<E[]> {
  const seen: E[] = []
  for await (const event of iterator) {
    seen.push(event)
    if (event.index >= last) break
  }
  return seen
}

/** A storage over `inner` that ignores the filter hint, as a storage may: the log must filter alone. */
function ignoringFilters(inner: LogStorage): LogStorage & { filtersSeen: unknown[] } {
  const filtersSeen: unknown[] = []
  return {
    name: inner.name,
    filtersSeen,
    open: () => inner.open(),
    append: (records, options) => inner.append(records, options),
    read(from, filter) {
      filtersSeen.push(filter)
      return inner.read(from)
    },
    watch: inner.watch && ((onAppend, onFailure) => inner.watch!(onAppend, onFailure)),
    close: () => inner.close(),
  }
}

const kinds: [string, () => Promise<LogStorage | { filename: string }>][] = [
  ['memory storage (filters)', async () => memoryStorage()],
  ['a storage ignoring the hint', async () => ignoringFilters(memoryStorage())],
  ['file', async () => ({ filename: join(await tempDir('filtered'), `${randomUUID()}.ndjson`) })],
]

async function open(kind: () => Promise<LogStorage | { filename: string }>): Promise<Log<Event>> {
  return reopen(await kind())
}

function reopen(where: LogStorage | { filename: string }): Promise<Log<Event>> {
  return initLog<Event>('filename' in where ? where : { storage: where })
}

/** Appends 30 events: types a, b, c in turn; urls x, y in turn. */
async function fill(log: Log<Event>, from = 0, count = 30): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const n = from + i
      return log.append({ type: 'abc'[n % 3]!, url: n % 2 === 0 ? 'https://x.example/' : 'https://y.example/', n })
    }),
  )
}

for (const [kind, make] of kinds) {
  describe(`events({ types, where }) on ${kind}`, () => {
    it('replays only the matching events, then tails only the matching ones', async () => {
      const log = await open(make)
      await fill(log)
      const types = log.events({ types: ['a', 'c'] })
      const replayed = []
      for (let i = 0; i < 20; i++) replayed.push((await types.next()).value!)
      expect(replayed.map((event) => event.index)).toEqual(Array.from({ length: 30 }, (_, n) => n).filter((n) => n % 3 !== 1))
      const next = types.next()
      await fill(log, 30, 3)
      expect((await next).value).toMatchObject({ index: 30, type: 'a', n: 30 })
      expect((await types.next()).value).toMatchObject({ index: 32, type: 'c' })
      await types.return?.()

      const both = await until(log.events({ types: ['b'], where: { url: 'https://x.example/' } }), 28)
      expect(both.map((event) => event.index)).toEqual([4, 10, 16, 22, 28])
      await log.close()
    })

    it('starts after the given index, in a log just written and in one opened afresh', async () => {
      const where = await make()
      const first = await reopen(where)
      await fill(first)
      const expected = [13, 15, 17, 19, 21, 23, 25, 27, 29]
      expect((await until(first.events({ after: 12, where: { url: 'https://y.example/' } }), 29)).map((event) => event.index)).toEqual(expected)
      await first.close()
      // Opened again: nothing in the window of recent records, everything read from the storage.
      const second = await reopen(where)
      expect((await until(second.events({ after: 12, where: { url: 'https://y.example/' } }), 29)).map((event) => event.index)).toEqual(expected)
      const tail = second.events({ after: 29, types: ['b'] })
      const next = tail.next()
      await fill(second, 30, 5)
      expect((await next).value).toMatchObject({ index: 31, type: 'b' })
      await tail.return?.()
      await second.close()
    })

    it('compares where values as JSON: nested objects in any key order, arrays in order', async () => {
      const log = await open(make)
      await log.append({ type: 'tagged', n: 0, tags: { a: 1, b: [1, 2] } })
      await log.append({ type: 'tagged', n: 1, tags: { b: [2, 1], a: 1 } })
      await log.append({ type: 'tagged', n: 2, tags: { b: [1, 2], a: 1 } })
      await log.append({ type: 'tagged', n: 3 })
      const matched = await until(log.events({ where: { tags: { b: [1, 2], a: 1 } } }), 2)
      expect(matched.map((event) => event.n)).toEqual([0, 2])
      // null matches only a stored null, not a missing field.
      await log.append({ type: 'tagged', n: 4, tags: null })
      expect((await until(log.events({ where: { tags: null } }), 4)).map((event) => event.n)).toEqual([4])
      await log.close()
    })
  })
}

describe('events() with a filter', () => {
  it('passes the filter to the storage as a hint and re-checks every event itself', async () => {
    const storage = ignoringFilters(memoryStorage())
    const writer = await initLog<Event>({ storage })
    await fill(writer)
    await writer.close()
    const log = await initLog<Event>({ storage })
    const events = await until(log.events({ types: ['c'] }), 29)
    expect(events.every((event) => event.type === 'c')).toBe(true)
    expect(events).toHaveLength(10)
    expect(storage.filtersSeen).toContainEqual({ types: ['c'] })
    await log.close()
  })

  it('tails a rare type on a busy log without delivering the others', async () => {
    const log = await initLog<Event>({ storage: memoryStorage() })
    const rare = log.events({ types: ['rare'] })
    const next = rare.next()
    // More than the window of recent records, so the tail reads the storage too.
    for (let n = 0; n < 10_000; n++) void log.append({ type: 'busy', n })
    await log.append({ type: 'rare', n: 10_000 })
    expect((await next).value).toMatchObject({ type: 'rare', index: 10_000 })
    const again = rare.next()
    await log.append({ type: 'busy', n: 10_001 })
    await log.append({ type: 'rare', n: 10_002 })
    expect((await again).value).toMatchObject({ type: 'rare', index: 10_002 })
    await rare.return?.()
    await log.close()
  })

  it('refuses a filter naming no types, or a where value JSON cannot carry, naming the value', async () => {
    const log = await initLog<Event>({ storage: memoryStorage() })
    expect(() => log.events({ types: [] })).toThrow(/types takes a non-empty list of event types.*got \[\]/)
    expect(() => log.events({ types: 'bookmark' as never })).toThrow(/types takes a non-empty list.*got "bookmark"/)
    expect(() => log.events({ where: { url: undefined } })).toThrow(/where\.url is undefined/)
    expect(() => log.events({ where: { at: new Date(0) } })).toThrow(/where\.at is a Date/)
    expect(() => log.events({ where: { n: Number.NaN } })).toThrow(/where\.n is NaN/)
    expect(() => log.events({ where: 'url' as never })).toThrow(/where takes an object of field values/)
    for (const bad of [() => log.events({ types: [] }), () => log.events({ where: { f: () => 1 } })]) {
      expect(bad).toThrow(TypeError)
    }
    await log.close()
  })
})

describe('events({ until })', () => {
  it('ends after the given index, filtered or not, whether the events come from memory or the storage', async () => {
    const storage = memoryStorage()
    const writer = await initLog<Event>({ storage })
    await fill(writer)
    const collect = async (log: Log<Event>, options: Parameters<Log<Event>['events']>[0]) => {
      const seen: number[] = []
      for await (const event of log.events(options)) seen.push(event.index)
      return seen
    }
    expect(await collect(writer, { until: 4 })).toEqual([0, 1, 2, 3, 4])
    // The last matching event is long before the end: the loop still ends.
    expect(await collect(writer, { types: ['a'], until: writer.length - 1 })).toEqual([0, 3, 6, 9, 12, 15, 18, 21, 24, 27])
    expect(await collect(writer, { where: { n: 2 }, until: 29 })).toEqual([2])
    expect(await collect(writer, { after: 10, until: 10 })).toEqual([])
    await writer.close()
    // Opened afresh: read from the storage (which filters) rather than the recent window.
    const reader = await initLog<Event>({ storage })
    expect(await collect(reader, { types: ['b'], until: 9 })).toEqual([1, 4, 7])
    expect(await collect(reader, { types: ['nothing'], until: 29 })).toEqual([])
    // Beyond the end, it waits for the events up to there, then ends.
    const waiting = collect(reader, { types: ['c'], after: 28, until: 32 })
    await fill(reader, 30, 6)
    expect(await waiting).toEqual([29, 32])
    await reader.close()
    expect(() => reader.events({ until: 1.5 })).toThrow(/events\(\{ until \}\) takes an index of -1 or more, such as log.length - 1, got 1.5/)
  })
})
