/**
 * The contract every `LogStorage` must honour, run against each built-in
 * storage (and any later one: IndexedDB, PostgreSQL). It knows nothing of
 * files: a fixture hands it fresh storages and, optionally, new storage
 * objects over the same data.
 */
import { describe, expect, it } from 'vitest'
import { AppendConflictError, initLog, type LogStorage } from '../../src/index.js'

type MaybePromise<T> = T | Promise<T>

/** How the contract suite gets storages to test. */
export interface LogStorageFixture {
  /** A storage over fresh, empty data, not yet opened. */
  create(): MaybePromise<LogStorage>
  /** A new storage object over the same data as `closed` (which the suite has closed), as after a restart. */
  reopen?(closed: LogStorage): MaybePromise<LogStorage>
  /** A second storage object over the same data as `writer` (open), as another process would open it to follow the writer. */
  follow?(writer: LogStorage): MaybePromise<LogStorage>
}

type Stored = Record<string, unknown> & { index: number }

async function readAll(storage: LogStorage, from = 0): Promise<Stored[]> {
  const events: Stored[] = []
  for await (const batch of storage.read(from)) events.push(...batch)
  return events
}

async function opened(storage: MaybePromise<LogStorage>): Promise<LogStorage> {
  const ready = await storage
  await ready.open()
  return ready
}

/** Records of a few hundred bytes each, so a few thousand span several read batches. */
function records(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => JSON.stringify({ type: 'counted', n: from + i, padding: 'x'.repeat(200) }))
}

function expectCounted(events: Stored[], from: number, to: number): void {
  expect(events.length).toBe(to - from)
  events.forEach((event, i) => {
    expect(event.index).toBe(from + i)
    expect(event.n).toBe(from + i)
  })
}

/** Declares the contract tests for one `LogStorage` implementation. */
export function describeLogStorage(name: string, fixture: LogStorageFixture): void {
  describe(`LogStorage contract: ${name}`, () => {
    it('opens empty and reads nothing', async () => {
      const storage = fixture.create()
      const ready = await storage
      expect(await ready.open()).toBe(0)
      expect(await readAll(ready)).toEqual([])
      await ready.close()
    })

    it('gives consecutive indices in the order given and resolves with the first', async () => {
      const storage = await opened(fixture.create())
      expect(await storage.append(['{"type":"a"}', '{"type":"b"}'])).toBe(0)
      expect(await storage.append(['{"type":"c"}'])).toBe(2)
      expect(await readAll(storage)).toEqual([
        { type: 'a', index: 0 },
        { type: 'b', index: 1 },
        { type: 'c', index: 2 },
      ])
      await storage.close()
    })

    it('reads from any position, across batches, and nothing past the end', async () => {
      const storage = await opened(fixture.create())
      for (let from = 0; from < 3000; from += 500) await storage.append(records(from, 500))
      for (const from of [0, 1, 499, 500, 1023, 1024, 1025, 2047, 2500, 2998, 2999]) {
        expectCounted(await readAll(storage, from), from, 3000)
      }
      expect(await readAll(storage, 3000)).toEqual([])
      expect(await readAll(storage, 5000)).toEqual([])
      await storage.close()
    })

    it('keeps the records exactly: unicode, escapes, nesting, empty objects', async () => {
      const storage = await opened(fixture.create())
      const events = [
        { text: 'é 😀 \n "quoted" \\ \u2028 \u0000', tab: '\t' },
        {},
        { nested: { list: [1, 'two', null, true, { deep: [] }] }, zero: 0, negative: -1.5e-7 },
      ]
      await storage.append(events.map((event) => JSON.stringify(event)))
      expect(await readAll(storage)).toEqual(events.map((event, index) => ({ ...event, index })))
      await storage.close()
    })

    it('gives every read fresh objects', async () => {
      const storage = await opened(fixture.create())
      await storage.append(['{"list":[1]}'])
      const [first] = await readAll(storage)
      ;(first!.list as number[]).push(2)
      first!.index = 99
      expect(await readAll(storage)).toEqual([{ list: [1], index: 0 }])
      await storage.close()
    })

    it('with expectedLastIndex, appends only if the last index matches, and a conflict writes nothing', async () => {
      const storage = await opened(fixture.create())
      expect(await storage.append(['{"n":0}'], { expectedLastIndex: -1 })).toBe(0)
      const conflict = await storage.append(['{"n":1}', '{"n":2}'], { expectedLastIndex: -1 }).catch((error: unknown) => error)
      expect(conflict).toBeInstanceOf(AppendConflictError)
      expect(conflict).toMatchObject({ code: 'APPEND_CONFLICT', expectedLastIndex: -1, actualLastIndex: 0 })
      expect(await readAll(storage)).toEqual([{ n: 0, index: 0 }])
      expect(await storage.append(['{"n":1}'], { expectedLastIndex: 0 })).toBe(1)
      expect(await storage.append(['{"n":2}'])).toBe(2)
      expect(await readAll(storage)).toEqual([0, 1, 2].map((n) => ({ n, index: n })))
      await storage.close()
    })

    if (fixture.reopen)
      it('keeps its events for a storage reopened on the same data', async () => {
        const storage = await opened(fixture.create())
        await storage.append(records(0, 10))
        await storage.close()
        const again = await fixture.reopen!(storage)
        expect(await again.open()).toBe(10)
        expectCounted(await readAll(again), 0, 10)
        expect(await again.append(records(10, 1))).toBe(10)
        expectCounted(await readAll(again, 5), 5, 11)
        await again.close()
      })

    it('serves initLog({ storage }): un-awaited appends, replay, events({ after }), conflicts', async () => {
      const storage = fixture.create()
      const log = await initLog<{ type: string; n: number }>({ storage: await storage })
      const stored = await Promise.all(Array.from({ length: 2000 }, (_, n) => log.append({ type: 'counted', n })))
      expect(stored.map((event) => event.index)).toEqual(stored.map((_, n) => n))
      expect(log.length).toBe(2000)
      for (const after of [-1, 0, 999, 1998]) {
        const seen: number[] = []
        for await (const event of log.events({ after })) {
          expect(event.n).toBe(event.index)
          seen.push(event.index)
          if (event.index === 1999) break
        }
        expect(seen).toEqual(Array.from({ length: 1999 - after }, (_, i) => after + 1 + i))
      }
      await expect(log.append({ type: 'late', n: -1 }, { expectedLastIndex: 1000 })).rejects.toBeInstanceOf(AppendConflictError)
      expect((await log.append({ type: 'counted', n: 2000 }, { expectedLastIndex: 1999 })).index).toBe(2000)
      await log.close()
    })

    if (fixture.reopen)
      it('lets initLog reopen the data and continue the indices', async () => {
        const storage = await fixture.create()
        const log = await initLog<{ n: number }>({ storage })
        await Promise.all(Array.from({ length: 300 }, (_, n) => log.append({ n })))
        await log.close()
        const again = await initLog<{ n: number }>({ storage: await fixture.reopen!(storage) })
        expect(again.length).toBe(300)
        expect(await again.append({ n: 300 })).toMatchObject({ n: 300, index: 300 })
        const replayed: number[] = []
        for await (const event of again.events()) {
          replayed.push(event.n)
          if (event.index === 300) break
        }
        expect(replayed).toEqual(Array.from({ length: 301 }, (_, n) => n))
        await again.close()
      })

    if (fixture.follow)
      it('lets a read-only log on a second storage object follow the appends', async () => {
        const writerStorage = await fixture.create()
        const writer = await initLog<{ n: number }>({ storage: writerStorage })
        await writer.append({ n: 0 })
        const follower = await initLog<{ n: number }>({ storage: await fixture.follow!(writerStorage), readOnly: true })
        const seen: number[] = []
        const following = (async () => {
          for await (const event of follower.events()) {
            seen.push(event.n)
            if (event.index === 20) break
          }
        })()
        for (let n = 1; n <= 20; n++) await writer.append({ n })
        await following
        expect(seen).toEqual(Array.from({ length: 21 }, (_, n) => n))
        await expect(follower.append({ n: -1 })).rejects.toThrow(/readOnly/)
        await follower.close()
        await writer.close()
      })

    it('closes cleanly', async () => {
      const storage = await opened(fixture.create())
      await storage.append(['{}'])
      await expect(storage.close()).resolves.toBeUndefined()
    })
  })
}
