import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { type Indexed, initLog, type LogStorage, memoryStorage, UpcastError } from '../../src/index.js'

type Numbered = { type: string; n: number; bad?: boolean }

/** Refuses events marked `bad`, as an upcast meeting a shape it does not know would. */
function refusingBad(stored: Indexed<Numbered>): Numbered {
  if (stored.bad) throw new Error(`cannot upcast event ${String(stored.n)}`)
  return stored
}

/** A storage over `inner` that counts how many of its readers were released (returned or run to their end). */
function countingReaders(inner: LogStorage): LogStorage & { opened: number; released: number } {
  const storage = {
    name: inner.name,
    opened: 0,
    released: 0,
    open: () => inner.open(),
    append: (records: readonly string[], options?: Parameters<LogStorage['append']>[1]) => inner.append(records, options),
    async *read(from: number) {
      storage.opened++
      try {
        yield* inner.read(from)
      } finally {
        storage.released++
      }
    },
    close: () => inner.close(),
  }
  return storage
}

/** Rejects after `ms`: a generous bound, only there so that a missed wake-up fails the test instead of hanging it. */
function within<T>(promise: Promise<T>, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

describe('an upcast failure', () => {
  it('rejects next() instead of throwing, ends the iteration and releases the storage reader', async () => {
    const inner = memoryStorage()
    const writer = await initLog<Numbered>({ storage: inner })
    for (let n = 0; n < 5; n++) await writer.append({ type: 'numbered', n, bad: n === 2 })
    await writer.close()
    // Opened afresh, so the events come from one batch read from the storage.
    const storage = countingReaders(inner)
    const log = await initLog<Numbered>({ storage, upcast: refusingBad })
    const iterator = log.events()
    expect((await iterator.next()).value).toMatchObject({ n: 0 })
    expect((await iterator.next()).value).toMatchObject({ n: 1 })
    let third: Promise<unknown> | undefined
    expect(() => {
      third = iterator.next()
    }).not.toThrow()
    await expect(third).rejects.toBeInstanceOf(UpcastError)
    await expect(third).rejects.toMatchObject({ code: 'UPCAST_FAILED', index: 2 })
    // The iteration ended there: events 3 and 4 are not delivered past the bad one.
    expect(await iterator.next()).toEqual({ done: true, value: undefined })
    expect(storage.released).toBe(storage.opened)
    await log.close()
  })

  it('of an event just appended (served from memory) rejects next() too, and removes the abort listener', async () => {
    const log = await initLog<Numbered>({ storage: memoryStorage(), upcast: refusingBad })
    const controller = new AbortController()
    const iterator = log.events({ signal: controller.signal })
    // Waits for the first append: from here on the iterator listens to the signal.
    const first = iterator.next()
    await log.append({ type: 'numbered', n: 0 })
    expect((await first).value).toMatchObject({ n: 0 })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    await Promise.all([log.append({ type: 'numbered', n: 1 }), log.append({ type: 'numbered', n: 2, bad: true })])
    expect((await iterator.next()).value).toMatchObject({ n: 1 })
    let third: Promise<unknown> | undefined
    expect(() => {
      third = iterator.next()
    }).not.toThrow()
    await expect(third).rejects.toMatchObject({ code: 'UPCAST_FAILED', index: 2 })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    expect(await iterator.next()).toEqual({ done: true, value: undefined })
    await log.close()
  })
})

describe('a waiting iterator', () => {
  it('is not left waiting when the log grows while it reads the storage', async () => {
    // Another writer's storage: the log learns of its appends through watch(),
    // and the first read lags behind the length it announced (as a follower's
    // file read can), while a further append is announced during that read.
    const inner = memoryStorage()
    const other = await initLog<Numbered>({ storage: inner })
    let announce: (length: number) => void = () => {}
    let lagging = true
    const storage: LogStorage = {
      name: 'lagging',
      open: () => inner.open(),
      append: (records, options) => inner.append(records, options),
      async *read(from) {
        if (lagging) {
          lagging = false
          await other.append({ type: 'numbered', n: 1 })
          announce(2)
          return
        }
        yield* inner.read(from)
      },
      watch(onAppend) {
        announce = onAppend
        return () => {}
      },
      close: async () => {},
    }
    const log = await initLog<Numbered>({ storage, readOnly: true })
    const iterator = log.events()
    const first = iterator.next()
    await other.append({ type: 'numbered', n: 0 })
    announce(1)
    expect((await within(first)).value).toMatchObject({ n: 0, index: 0 })
    expect((await within(iterator.next())).value).toMatchObject({ n: 1, index: 1 })
    await iterator.return?.()
    await log.close()
    await other.close()
  })
})
