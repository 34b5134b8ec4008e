import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { getEventListeners } from 'node:events'
import { type FileHandle, mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { fileStorage, initLog, InvalidEventError, LogClosedError, memoryStorage, type Log } from '../../src/index.js'
import { timeOnly, withoutMeta } from '../helpers/meta.js'
import { recordingStorage } from '../helpers/recording-storage.js'

let base: string
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tes-log-'))
})
afterAll(async () => {
  await rm(base, { recursive: true, force: true })
})
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

function freshLogPath(): string {
  return join(base, randomUUID(), 'log.ndjson')
}

type Counted = { type: string; n: number }

/** The lines of a log file, each without the `_meta` the log adds (test/core/metadata.test.ts tests that). */
async function readLines(filename: string): Promise<string[]> {
  return (await readFile(filename, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map(withoutMeta)
}

/** Reads events from `log` until the one with index `last`. */
async function collectUntil<E>(log: Log<E>, last: number, options: { after?: number } = {}): Promise<(E & { index: number })[]> {
  const events: (E & { index: number })[] = []
  for await (const event of log.events(options)) {
    events.push(event)
    if (event.index === last) break
  }
  return events
}

describe('append', () => {
  it('lands thousands of un-awaited appends in one burst in call order, with contiguous indices', async () => {
    const filename = freshLogPath()
    const log = await initLog<Counted>({ filename })
    const stored = await Promise.all(Array.from({ length: 5000 }, (_, n) => log.append({ type: 'counted', n })))
    expect(stored.map((event) => event.index)).toEqual(stored.map((_, n) => n))
    expect(log.length).toBe(5000)
    await log.close()
    const lines = await readLines(filename)
    expect(lines).toHaveLength(5000)
    lines.forEach((line, n) => expect(line).toBe(JSON.stringify({ type: 'counted', n, index: n })))
  })

  it('keeps call order when awaited and un-awaited appends interleave, from several callers', async () => {
    const filename = freshLogPath()
    const log = await initLog<{ caller: string; n: number }>({ filename })
    const callOrder: string[] = []
    const append = (caller: string, n: number) => {
      callOrder.push(`${caller}${n}`)
      return log.append({ caller, n })
    }
    // Like HTTP handlers that fire and forget, next to code that awaits each append.
    const fireAndForget = async () => {
      const pending = []
      for (let n = 0; n < 500; n++) {
        pending.push(append('f', n))
        if (n % 50 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
      return Promise.all(pending)
    }
    const oneByOne = async () => {
      for (let n = 0; n < 200; n++) await append('a', n)
    }
    const mixed = async () => {
      for (let n = 0; n < 300; n++) {
        if (n % 3 === 0) await append('m', n)
        else void append('m', n)
      }
    }
    await Promise.all([fireAndForget(), oneByOne(), mixed()])
    await log.close()
    const lines = (await readLines(filename)).map((line) => JSON.parse(line) as { caller: string; n: number; index: number })
    expect(lines.map((event) => `${event.caller}${event.n}`)).toEqual(callOrder)
    expect(lines.map((event) => event.index)).toEqual(lines.map((_, index) => index))
  })

  it('resolves with the event as stored, its index in place of any index the caller gave', async () => {
    const log = await initLog<{ type: string; index?: number; nested: { a: number } }>({ storage: memoryStorage() })
    expect(await log.append({ type: 'a', nested: { a: 1 } })).toEqual({ type: 'a', nested: { a: 1 }, _meta: timeOnly, index: 0 })
    expect(await log.append({ type: 'b', index: 42, nested: { a: 2 } })).toEqual({ type: 'b', nested: { a: 2 }, _meta: timeOnly, index: 1 })
    expect(await collectUntil(log, 1)).toEqual([
      { type: 'a', nested: { a: 1 }, _meta: timeOnly, index: 0 },
      { type: 'b', nested: { a: 2 }, _meta: timeOnly, index: 1 },
    ])
    await log.close()
  })

  it('writes what queues up during a write as one batch (group commit)', async () => {
    const storage = recordingStorage(fileStorage(freshLogPath()))
    const log = await initLog<Counted>({ storage })
    await Promise.all(Array.from({ length: 5000 }, (_, n) => log.append({ type: 'counted', n })))
    expect(storage.batches.reduce((sum, size) => sum + size, 0)).toBe(5000)
    expect(storage.batches.length).toBeLessThan(10)
    await log.close()
  })

  it('with fsync: true, flushes once per batch (not per event) before the appends resolve', async () => {
    const filename = freshLogPath()
    const storage = recordingStorage(fileStorage(filename, { fsync: true }))
    const log = await initLog<Counted>({ storage })
    // Count the real flushes: every FileHandle shares one prototype.
    const probe: FileHandle = await open(join(base, `probe-${randomUUID()}`), 'w')
    const datasync = vi.spyOn(Object.getPrototypeOf(probe) as FileHandle, 'datasync')
    await probe.close()
    const flushedBefore: boolean[] = []
    await Promise.all(Array.from({ length: 3000 }, (_, n) => log.append({ type: 'counted', n }).then(() => flushedBefore.push(datasync.mock.calls.length > 0))))
    expect(flushedBefore.every(Boolean)).toBe(true)
    expect(datasync.mock.calls.length).toBe(storage.batches.length)
    expect(datasync.mock.calls.length).toBeLessThan(10)
    for (let n = 3000; n < 3010; n++) await log.append({ type: 'counted', n })
    expect(datasync.mock.calls.length).toBe(storage.batches.length)
    await log.close()
    expect(await readLines(filename)).toHaveLength(3010)
  })

  it('appends with expectedLastIndex only when the log is where the caller saw it', async () => {
    const log = await initLog<Counted>({ storage: memoryStorage() })
    await log.append({ type: 'counted', n: 0 }, { expectedLastIndex: -1 })
    const racing = [
      log.append({ type: 'counted', n: 1 }, { expectedLastIndex: 0 }),
      log.append({ type: 'counted', n: 2 }, { expectedLastIndex: 0 }),
      log.append({ type: 'counted', n: 3 }),
    ]
    const [first, second, third] = await Promise.allSettled(racing)
    expect(first).toMatchObject({ status: 'fulfilled', value: { index: 1 } })
    expect(second).toMatchObject({ status: 'rejected', reason: { code: 'APPEND_CONFLICT', expectedLastIndex: 0, actualLastIndex: 1 } })
    // The conflict failed only itself: the next append got the next index.
    expect(third).toMatchObject({ status: 'fulfilled', value: { n: 3, index: 2 } })
    for (const expectedLastIndex of [-2, 0.5, '1']) {
      await expect(log.append({ type: 'counted', n: -1 }, { expectedLastIndex: expectedLastIndex as number })).rejects.toThrow(/takes an index of -1 or more/)
    }
    expect(log.length).toBe(3)
    await log.close()
  })
})

describe('a bad event', () => {
  const badEvents: [string, unknown, RegExp][] = [
    ['null', null, /an event must be a plain object.*got null/],
    ['an array', [{ type: 'a' }], /an event must be a plain object.*got an array/],
    ['a string', 'bookmark', /an event must be a plain object.*got a string/],
    ['a class instance', new (class Bookmark {})(), /got a Bookmark/],
    ['a Map', new Map(), /got a Map/],
    ['a Date field', { type: 'a', at: new Date() }, /event\.at is a Date.*toISOString/],
    ['a BigInt field', { type: 'a', amount: { cents: 10n } }, /event\.amount\.cents is a bigint/],
    ['NaN', { type: 'a', list: [1, Number.NaN] }, /event\.list\[1\] is NaN, which JSON stores as null/],
    ['Infinity', { type: 'a', n: Number.POSITIVE_INFINITY }, /event\.n is Infinity/],
    ['a function', { type: 'a', callback: () => {} }, /event\.callback is a function/],
    ['a symbol', { type: 'a', tag: Symbol('x') }, /event\.tag is a symbol/],
    ['undefined in an array', { type: 'a', list: [undefined] }, /event\.list\[0\] is undefined/],
    [
      'a circular reference',
      (() => {
        const event: Record<string, unknown> = { type: 'a', child: {} }
        ;(event.child as Record<string, unknown>).parent = event
        return event
      })(),
      /event\.child\.parent refers back to an enclosing object/,
    ],
  ]

  it.each(badEvents)('(%s) is refused with an InvalidEventError naming where; nothing is written and no index is used', async (_, event, message) => {
    const filename = freshLogPath()
    const log = await initLog<Record<string, unknown>>({ filename })
    await log.append({ type: 'before' })
    const error = await log.append(event as Record<string, unknown>).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(InvalidEventError)
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({ code: 'INVALID_EVENT', message: expect.stringMatching(message) })
    expect(await log.append({ type: 'after' })).toEqual({ type: 'after', _meta: timeOnly, index: 1 })
    await log.close()
    expect(await readLines(filename)).toEqual(['{"type":"before","index":0}', '{"type":"after","index":1}'])
  })

  it('in a burst of good ones fails alone', async () => {
    const filename = freshLogPath()
    const log = await initLog<Record<string, unknown>>({ filename })
    const results = await Promise.allSettled([log.append({ n: 0 }), log.append({ n: 10n }), log.append({ n: 1 })])
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    await log.close()
    expect(await readLines(filename)).toEqual(['{"n":0,"index":0}', '{"n":1,"index":1}'])
  })
})

it('round-trips a 2 MB event through the file', async () => {
  const filename = freshLogPath()
  const big = { type: 'big', text: 'é'.repeat(512 * 1024), list: Array.from({ length: 40_000 }, (_, i) => ({ i, s: 'x'.repeat(20) })) }
  expect(Buffer.byteLength(JSON.stringify(big))).toBeGreaterThan(2 * 1024 * 1024)
  const log = await initLog<typeof big>({ filename })
  await log.append({ ...big, type: 'first' })
  await log.append(big)
  await log.close()
  const again = await initLog<typeof big>({ filename })
  expect(await collectUntil(again, 1, { after: 0 })).toEqual([{ ...big, _meta: timeOnly, index: 1 }])
  expect((await collectUntil(again, 1))[0]).toEqual({ ...big, type: 'first', _meta: timeOnly, index: 0 })
  await again.close()
})

describe('events()', () => {
  for (const [kind, makeOptions] of [
    ['a file', () => ({ filename: freshLogPath() })],
    ['memory', () => ({ storage: memoryStorage() })],
  ] as const) {
    it(`replays, then delivers each append as it happens, woken without any timer (${kind})`, async () => {
      const log = await initLog<Counted>(makeOptions())
      await log.append({ type: 'counted', n: 0 })
      // With every timer frozen, a log that polled would never deliver.
      vi.useFakeTimers()
      const iterator = log.events()
      expect((await iterator.next()).value).toEqual({ type: 'counted', n: 0, _meta: timeOnly, index: 0 })
      for (let n = 1; n <= 5; n++) {
        const next = iterator.next()
        await log.append({ type: 'counted', n })
        expect((await next).value).toEqual({ type: 'counted', n, _meta: timeOnly, index: n })
      }
      const burst = Promise.all(Array.from({ length: 100 }, (_, i) => log.append({ type: 'counted', n: 6 + i })))
      for (let n = 6; n < 106; n++) expect((await iterator.next()).value).toMatchObject({ n, index: n })
      await burst
      await iterator.return?.()
      vi.useRealTimers()
      await log.close()
    })
  }

  it('runs many independent iterators at once, started at different moments, each seeing every event in order', async () => {
    const log = await initLog<Counted>({ filename: freshLogPath() })
    const total = 6000
    const readers: Promise<number[]>[] = []
    const startReader = (after: number) => readers.push(collectUntil(log, total - 1, { after }).then((events) => events.map((event) => event.index)))
    for (let i = 0; i < 10; i++) startReader(-1)
    for (let from = 0; from < total; from += 1000) {
      await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append({ type: 'counted', n: from + i })))
      startReader(-1)
      startReader(from + 500)
    }
    const results = await Promise.all(readers)
    const starts = [...Array(10).fill(-1), ...Array.from({ length: 6 }, (_, k) => [-1, k * 1000 + 500]).flat()]
    results.forEach((indices, reader) => {
      const after = starts[reader] as number
      expect(indices).toEqual(Array.from({ length: total - 1 - after }, (_, i) => after + 1 + i))
    })
    await log.close()
  })

  it('keeps up an iterator that falls far behind the newest events (past the in-memory window)', async () => {
    const log = await initLog<Counted>({ filename: freshLogPath() })
    const iterator = log.events()
    const first = iterator.next()
    await log.append({ type: 'counted', n: 0 })
    expect((await first).value).toMatchObject({ index: 0 })
    for (let from = 1; from < 30_001; from += 5000) {
      await Promise.all(Array.from({ length: 5000 }, (_, i) => log.append({ type: 'counted', n: from + i })))
    }
    for (let n = 1; n <= 30_000; n++) {
      const { value } = await iterator.next()
      if (value?.index !== n || value.n !== n) expect(value).toMatchObject({ n, index: n })
    }
    await iterator.return?.()
    await log.close()
  })

  it('delivers every event exactly once, in order, to readers of any speed during bursts of any size', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 5 }),
        async (bursts, pauses) => {
          const log = await initLog<Counted>({ filename: freshLogPath() })
          const total = bursts.reduce((sum, size) => sum + size, 0)
          // Each reader pauses (a macrotask) every `pause` events: some lag far behind, some keep up.
          const readers = pauses.map(async (pause) => {
            let expected = 0
            for await (const event of log.events()) {
              if (event.index !== expected || event.n !== expected) return `expected ${expected}, got ${event.index}/${event.n}`
              expected++
              if (expected % pause === 0) await new Promise((resolve) => setImmediate(resolve))
              if (expected === total) break
            }
            return 'ok'
          })
          let n = 0
          for (const size of bursts) {
            await Promise.all(Array.from({ length: size }, () => log.append({ type: 'counted', n: n++ })))
          }
          expect(await Promise.all(readers)).toEqual(pauses.map(() => 'ok'))
          await log.close()
        },
      ),
      // One case always big enough to overflow the in-memory window of recent events.
      {
        numRuns: 8,
        examples: [
          [
            [4000, 1, 4000, 3000, 2],
            [1, 5000, 37],
          ],
        ],
      },
    )
  }, 120_000)

  it('sees appends made through another log sharing the storage, in order', async () => {
    const storage = memoryStorage()
    const one = await initLog<{ by: string; n: number }>({ storage })
    const two = await initLog<{ by: string; n: number }>({ storage })
    const seen = collectUntil(one, 599)
    for (let n = 0; n < 300; n++) {
      await one.append({ by: 'one', n })
      void two.append({ by: 'two', n })
    }
    await two.append({ by: 'two', n: -1 })
    const events = await seen
    expect(events.map((event) => event.index)).toEqual(Array.from({ length: 600 }, (_, i) => i))
    const byOne = events.filter((event) => event.by === 'one').map((event) => event.n)
    expect(byOne).toEqual(Array.from({ length: 300 }, (_, n) => n))
    await one.close()
    await two.close()
  })

  it('starts after the given index, and refuses an index that is not one', async () => {
    const log = await initLog<Counted>({ filename: freshLogPath() })
    await Promise.all(Array.from({ length: 10 }, (_, n) => log.append({ type: 'counted', n })))
    expect((await collectUntil(log, 9, { after: 6 })).map((event) => event.index)).toEqual([7, 8, 9])
    // After the last event: waits for the next.
    const waiting = log.events({ after: 9 }).next()
    await log.append({ type: 'counted', n: 10 })
    expect((await waiting).value).toMatchObject({ index: 10 })
    for (const after of [-2, 1.5, Number.NaN, '3']) {
      expect(() => log.events({ after: after as number })).toThrow(/takes an index of -1 or more/)
    }
    await log.close()
  })

  it('is released when the loop breaks, and ends when its signal aborts', async () => {
    const log = await initLog<Counted>({ filename: freshLogPath() })
    await Promise.all(Array.from({ length: 5 }, (_, n) => log.append({ type: 'counted', n })))
    const controller = new AbortController()
    const iterator = log.events({ signal: controller.signal })
    for await (const event of iterator) if (event.index === 2) break
    expect(await iterator.next()).toEqual({ done: true, value: undefined })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)

    const seen: number[] = []
    const loop = (async () => {
      for await (const event of log.events({ signal: controller.signal })) seen.push(event.index)
    })()
    await vi.waitFor(() => expect(seen).toEqual([0, 1, 2, 3, 4]))
    controller.abort()
    await loop
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    // Aborted before it starts: it delivers nothing.
    expect(await log.events({ signal: controller.signal }).next()).toEqual({ done: true, value: undefined })
    await log.close()
  })

  it('passes stored events through upcast, keeping the index', async () => {
    const storage = memoryStorage()
    const writer = await initLog({ storage })
    await writer.append({ type: 'bookmark', url: 'https://example.com' })
    await writer.close()
    const log = await initLog<{ type: string; payload: { url: string } }>({
      storage,
      upcast: ({ type, url, index }) => ({ type: type as string, payload: { url: url as string }, index: index + 100 }),
    })
    expect(await collectUntil(log, 0)).toEqual([{ type: 'bookmark', payload: { url: 'https://example.com' }, _meta: timeOnly, index: 0 }])
    await log.close()
  })
})

describe('close()', () => {
  it('writes pending appends, ends every iterator, then refuses appends; closing twice is harmless', async () => {
    const filename = freshLogPath()
    const log = await initLog<Counted>({ filename })
    await log.append({ type: 'counted', n: 0 })
    const loops = Array.from({ length: 3 }, async () => {
      const seen: number[] = []
      for await (const event of log.events()) seen.push(event.index)
      return seen
    })
    const pending = Array.from({ length: 100 }, (_, i) => log.append({ type: 'counted', n: 1 + i }))
    const closing = log.close()
    await expect(log.append({ type: 'counted', n: -1 })).rejects.toBeInstanceOf(LogClosedError)
    await closing
    expect((await Promise.all(pending)).map((event) => event.index)).toEqual(Array.from({ length: 100 }, (_, i) => 1 + i))
    // Every loop finished; each saw a prefix of the log, in order.
    for (const seen of await Promise.all(loops)) expect(seen).toEqual(seen.map((_, index) => index))
    await expect(log.append({ type: 'counted', n: -1 })).rejects.toMatchObject({
      code: 'LOG_CLOSED',
      message: expect.stringContaining(filename),
    })
    await expect(log.close()).resolves.toBeUndefined()
    expect(await log.events().next()).toEqual({ done: true, value: undefined })
    expect(await readLines(filename)).toHaveLength(101)
  })

  it('ends iterators that are in the middle of reading the file, without an error', async () => {
    const filename = freshLogPath()
    const writer = await initLog<Counted & { padding: string }>({ filename })
    const padding = 'p'.repeat(100)
    for (let from = 0; from < 100_000; from += 20_000) {
      await Promise.all(Array.from({ length: 20_000 }, (_, i) => writer.append({ type: 'counted', n: from + i, padding })))
    }
    await writer.close()
    // Close at many different moments: while replaying, while searching for `after`, before the first read.
    for (let delay = 0; delay < 12; delay++) {
      const log = await initLog<Counted>({ filename })
      const replay = (async () => {
        let count = 0
        for await (const _ of log.events()) count++
        return count
      })()
      const searches = [1, 33_333, 77_777, 99_990].map(async (after) => {
        const seen: number[] = []
        for await (const event of log.events({ after })) seen.push(event.index)
        return seen
      })
      for (let i = 0; i < delay * delay; i++) await new Promise((resolve) => setImmediate(resolve))
      await log.close()
      expect(await replay).toBeLessThanOrEqual(100_000)
      for (const seen of await Promise.all(searches)) expect(seen).toEqual(seen.map((_, i) => seen[0]! + i))
    }
  })
})

it('refuses appends on a readOnly log and needs a filename or a storage', async () => {
  const storage = memoryStorage()
  const follower = await initLog({ storage, readOnly: true })
  await expect(follower.append({ type: 'a' })).rejects.toThrow(TypeError)
  await follower.close()
  await expect(initLog({})).rejects.toThrow(/needs \{ filename/)
  await expect(initLog(undefined as never)).rejects.toThrow(/needs \{ filename/)
})
