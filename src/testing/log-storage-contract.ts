/**
 * The contract every `LogStorage` must honour, as tests any storage's own
 * test file declares with `describeLogStorage`. It uses nothing but the
 * interface (and `initLog` over it), so it runs against any storage: the
 * fixture hands it fresh storages and, optionally, new storage objects over
 * the same data.
 */
import { isTinyEventSourcingError } from '../core/errors.js'
import { type EventFilter, matchesFilter } from '../core/filter.js'
import { initLog as openLog, type InitLogOptions, type Log } from '../core/log.js'
import type { Indexed, LogStorage } from '../core/log-storage.js'
import { assert, assertEqual, assertFields, rejection } from './assert.js'
import { testEnvironment } from './environment.js'
import { runnerFor, type TestRunner } from './runner.js'

type MaybePromise<T> = T | Promise<T>

/** How the contract suite gets the storages it tests. */
export interface LogStorageFixture {
  /** A storage over fresh, empty data, not yet opened. Called once or more by each test. */
  create(): MaybePromise<LogStorage>
  /**
   * Optional: a new storage object over the same data as `closed` (which the
   * suite has closed), as after a restart. Without it, the tests of
   * reopening are left out.
   */
  reopen?(closed: LogStorage): MaybePromise<LogStorage>
  /**
   * Optional: a second storage object over the same data as `writer` (open),
   * as another process would open it to follow the writer; the suite opens
   * it with `initLog({ storage, readOnly: true })`. Without it, the test of
   * following is left out.
   */
  follow?(writer: LogStorage): MaybePromise<LogStorage>
}

type Stored = Indexed<Record<string, unknown>>

function initLog<E extends object>(options: InitLogOptions<E>): Promise<Log<E>> {
  return openLog<E>(options, testEnvironment)
}

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

function assertCounted(events: Stored[], from: number, to: number, what: string): void {
  assertEqual(events.length, to - from, `${what}: number of events`)
  events.forEach((event, i) => {
    assertFields(event, { index: from + i, n: from + i }, `${what}: event ${from + i}`)
  })
}

/**
 * Declares the contract tests of one `LogStorage` implementation, in a
 * `describe` block named after it.
 *
 * @param name What the tests are named after, e.g. `'sqliteStorage'`.
 * @param fixture Makes the storages to test.
 * @param runner Your test runner's `describe` and `it`; defaults to the globals of that name (jest, vitest with `globals: true`).
 * @throws `UsageError` (code `USAGE`) without a runner.
 * @example
 * import { describe, it } from 'vitest' // or 'node:test'
 * import { memoryStorage } from 'tiny-event-sourcing'
 * import { describeLogStorage } from 'tiny-event-sourcing/testing'
 *
 * describeLogStorage('memoryStorage', { create: () => memoryStorage(), reopen: (closed) => closed }, { describe, it })
 */
export function describeLogStorage(name: string, fixture: LogStorageFixture, runner?: TestRunner): void {
  const { describe, it } = runnerFor(runner, 'describeLogStorage()')

  describe(`LogStorage contract: ${name}`, () => {
    it('opens empty and reads nothing', async () => {
      const storage = await fixture.create()
      assertEqual(await storage.open(), 0, 'open() of fresh data')
      assertEqual(await readAll(storage), [], 'read(0) of fresh data')
      await storage.close()
    })

    it('gives consecutive indices in the order given and resolves with the first', async () => {
      const storage = await opened(fixture.create())
      assertEqual(await storage.append(['{"type":"a"}', '{"type":"b"}']), 0, 'first append() of two records')
      assertEqual(await storage.append(['{"type":"c"}']), 2, 'second append()')
      assertEqual(
        await readAll(storage),
        [
          { type: 'a', index: 0 },
          { type: 'b', index: 1 },
          { type: 'c', index: 2 },
        ],
        'read(0)',
      )
      await storage.close()
    })

    it('reads from any position, across batches, and nothing past the end', async () => {
      const storage = await opened(fixture.create())
      for (let from = 0; from < 3000; from += 500) await storage.append(records(from, 500))
      for (const from of [0, 1, 499, 500, 1023, 1024, 1025, 2047, 2500, 2998, 2999]) {
        assertCounted(await readAll(storage, from), from, 3000, `read(${from}) of 3000 events`)
      }
      assertEqual(await readAll(storage, 3000), [], 'read(3000) of 3000 events')
      assertEqual(await readAll(storage, 5000), [], 'read(5000) of 3000 events')
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
      assertEqual(
        await readAll(storage),
        events.map((event, index) => ({ ...event, index })),
        'read(0)',
      )
      await storage.close()
    })

    it('gives every read fresh objects', async () => {
      const storage = await opened(fixture.create())
      await storage.append(['{"list":[1]}'])
      const [first] = await readAll(storage)
      ;(first!.list as number[]).push(2)
      ;(first as { index: number }).index = 99
      assertEqual(await readAll(storage), [{ list: [1], index: 0 }], 'read(0) after changing what an earlier read gave')
      await storage.close()
    })

    it('with expectedLastIndex, appends only if the last index matches, and a conflict writes nothing', async () => {
      const storage = await opened(fixture.create())
      assertEqual(await storage.append(['{"n":0}'], { expectedLastIndex: -1 }), 0, 'append(…, { expectedLastIndex: -1 }) to an empty log')
      const conflict = await rejection(
        storage.append(['{"n":1}', '{"n":2}'], { expectedLastIndex: -1 }),
        'append(…, { expectedLastIndex: -1 }) after one event',
      )
      assert(isTinyEventSourcingError(conflict, 'APPEND_CONFLICT'), `a conflict rejects with an AppendConflictError, not ${String(conflict)}`)
      assertFields(conflict, { expectedLastIndex: -1, actualLastIndex: 0 }, 'the AppendConflictError')
      assertEqual(await readAll(storage), [{ n: 0, index: 0 }], 'read(0) after the conflict')
      assertEqual(await storage.append(['{"n":1}'], { expectedLastIndex: 0 }), 1, 'append(…, { expectedLastIndex: 0 })')
      assertEqual(await storage.append(['{"n":2}']), 2, 'append() without expectedLastIndex')
      assertEqual(
        await readAll(storage),
        [0, 1, 2].map((n) => ({ n, index: n })),
        'read(0)',
      )
      await storage.close()
    })

    it('with a condition, appends only if no event after condition.after matches it, naming the first that does; a conflict writes nothing', async () => {
      const storage = await opened(fixture.create())
      const bookmark = (url: string) => JSON.stringify({ type: 'bookmark', url })
      await storage.append([bookmark('a'), JSON.stringify({ type: 'info', url: 'a' }), bookmark('b')])
      const about = (url: string, after: number) => ({ condition: { types: ['bookmark'], where: { url }, after } })
      assertEqual(await storage.append([bookmark('c')], about('c', -1)), 3, 'append under a condition nothing matches')
      const conflict = await rejection(storage.append([bookmark('a'), bookmark('d')], about('a', -1)), 'append under a condition event 0 matches')
      assert(isTinyEventSourcingError(conflict, 'APPEND_CONFLICT'), `a refused condition rejects with an AppendConflictError, not ${String(conflict)}`)
      assertFields(conflict, { expectedLastIndex: -1, actualLastIndex: 3 }, 'the AppendConflictError')
      assertFields((conflict as { conflictingEvent?: unknown }).conflictingEvent, { type: 'bookmark', url: 'a', index: 0 }, 'its conflictingEvent')
      assertEqual((await readAll(storage)).length, 4, 'events after the refused append')
      // Only events after `after` count, and only those the filter selects (the info of a is not a bookmark).
      assertEqual(await storage.append([bookmark('a')], about('a', 0)), 4, 'append under a condition whose match is not after its index')
      await storage.close()
    })

    it('reads with a filter every event it selects, in order, whatever else it leaves out', async () => {
      const storage = await opened(fixture.create())
      const events = Array.from({ length: 3000 }, (_, n) => ({ type: ['a', 'b', 'c'][n % 3]!, url: `https://${n % 7}.example/`, n }))
      await storage.append(events.map((event) => JSON.stringify(event)))
      const filters: EventFilter[] = [
        { types: ['b'] },
        { where: { url: 'https://3.example/' } },
        { types: ['a', 'c'], where: { url: 'https://0.example/' } },
        { types: ['none'] },
      ]
      for (const filter of filters) {
        const read: Stored[] = []
        for await (const batch of storage.read(5, filter)) read.push(...batch)
        const what = `read(5, ${JSON.stringify(filter)})`
        for (let i = 1; i < read.length; i++) assert(read[i]!.index > read[i - 1]!.index, `${what} gives events in index order`)
        const expected = events.map((event, index) => ({ ...event, index })).filter((event) => event.index >= 5 && matchesFilter(event, filter))
        assertEqual(
          read.filter((event) => matchesFilter(event, filter)),
          expected,
          `${what}: the events it selects`,
        )
      }
      await storage.close()
    })

    it('stores an atomic batch whole, read back as plain events', async () => {
      const storage = await opened(fixture.create())
      await storage.append(['{"n":0}'])
      assertEqual(await storage.append(['{"n":1}', '{"n":2}', '{"n":3}'], { atomic: true }), 1, 'append(…, { atomic: true })')
      assertEqual(await storage.append(['{"n":4}']), 4, 'the append after it')
      assertEqual(
        await readAll(storage),
        [0, 1, 2, 3, 4].map((n) => ({ n, index: n })),
        'read(0): no mark of the batch shows',
      )
      await storage.close()
    })

    if (fixture.reopen)
      it('keeps its events for a storage reopened on the same data', async () => {
        const storage = await opened(fixture.create())
        await storage.append(records(0, 10))
        await storage.close()
        const again = await fixture.reopen!(storage)
        assertEqual(await again.open(), 10, 'open() of the reopened storage')
        assertCounted(await readAll(again), 0, 10, 'read(0) of the reopened storage')
        assertEqual(await again.append(records(10, 1)), 10, 'append() to the reopened storage')
        assertCounted(await readAll(again, 5), 5, 11, 'read(5) of the reopened storage')
        await again.close()
      })

    it('serves initLog({ storage }): un-awaited appends, replay, events({ after }), conflicts', async () => {
      const log = await initLog<{ type: string; n: number }>({ storage: await fixture.create() })
      const stored = await Promise.all(Array.from({ length: 2000 }, (_, n) => log.append({ type: 'counted', n })))
      assertEqual(
        stored.map((event) => event.index),
        stored.map((_, n) => n),
        'indices of 2000 un-awaited appends',
      )
      assertEqual(log.length, 2000, 'log.length')
      for (const after of [-1, 0, 999, 1998]) {
        const seen: number[] = []
        for await (const event of log.events({ after })) {
          assertEqual(event.n, event.index, `event ${event.index} of events({ after: ${after} })`)
          seen.push(event.index)
          if (event.index === 1999) break
        }
        assertEqual(
          seen,
          Array.from({ length: 1999 - after }, (_, i) => after + 1 + i),
          `indices of events({ after: ${after} })`,
        )
      }
      const conflict = await rejection(log.append({ type: 'late', n: -1 }, { expectedLastIndex: 1000 }), 'log.append(…, { expectedLastIndex: 1000 }) at 1999')
      assert(isTinyEventSourcingError(conflict, 'APPEND_CONFLICT'), `a conflict rejects with an AppendConflictError, not ${String(conflict)}`)
      assertEqual((await log.append({ type: 'counted', n: 2000 }, { expectedLastIndex: 1999 })).index, 2000, 'log.append(…, { expectedLastIndex: 1999 })')
      await log.close()
    })

    if (fixture.reopen)
      it('lets initLog reopen the data and continue the indices', async () => {
        const storage = await fixture.create()
        const log = await initLog<{ n: number }>({ storage })
        await Promise.all(Array.from({ length: 300 }, (_, n) => log.append({ n })))
        await log.close()
        const again = await initLog<{ n: number }>({ storage: await fixture.reopen!(storage) })
        assertEqual(again.length, 300, 'length of the reopened log')
        assertFields(await again.append({ n: 300 }), { n: 300, index: 300 }, 'append() to the reopened log')
        const replayed: number[] = []
        for await (const event of again.events()) {
          replayed.push(event.n)
          if (event.index === 300) break
        }
        assertEqual(
          replayed,
          Array.from({ length: 301 }, (_, n) => n),
          'events of the reopened log',
        )
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
        assertEqual(
          seen,
          Array.from({ length: 21 }, (_, n) => n),
          'what the follower saw',
        )
        const refused = await rejection(follower.append({ n: -1 }), 'append() through the read-only follower')
        assert(
          isTinyEventSourcingError(refused, 'USAGE') && /readOnly/.test(refused.message),
          `a follower refuses appends naming readOnly, not with ${String(refused)}`,
        )
        await follower.close()
        await writer.close()
      })

    it('closes cleanly', async () => {
      const storage = await opened(fixture.create())
      await storage.append(['{}'])
      assertEqual(await storage.close(), undefined, 'what close() resolves with')
    })
  })
}
