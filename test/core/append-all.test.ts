import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { AppendConflictError, initLog, InvalidEventError, type LogStorage, memoryStorage, type StorageAppendOptions } from '../../src/index.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterAll(removeTempDirs)

type Event = { type: string; n: number; when?: unknown }

/** A storage over `inner` that records every call of append: how many records, with which options. */
function recordingAppends(inner: LogStorage): LogStorage & { calls: { count: number; options: StorageAppendOptions | undefined }[] } {
  const calls: { count: number; options: StorageAppendOptions | undefined }[] = []
  return {
    name: inner.name,
    calls,
    open: () => inner.open(),
    append(records, options) {
      calls.push({ count: records.length, options })
      return inner.append(records, options)
    },
    read: (from, filter) => inner.read(from, filter),
    close: () => inner.close(),
  }
}

async function everything(storage: LogStorage): Promise<Record<string, unknown>[]> {
  const events: Record<string, unknown>[] = []
  for await (const batch of storage.read(0)) events.push(...batch)
  return events
}

describe('appendAll', () => {
  it('resolves with the events as stored, with contiguous indices, in one atomic storage call', async () => {
    const storage = recordingAppends(memoryStorage())
    const log = await initLog<Event>({ storage })
    await log.append({ type: 'before', n: 0 })
    const stored = await log.appendAll([
      { type: 'order-placed', n: 1 },
      { type: 'payment-requested', n: 2 },
      { type: 'stock-reserved', n: 3 },
    ])
    expect(stored).toMatchObject([
      { type: 'order-placed', n: 1, index: 1 },
      { type: 'payment-requested', n: 2, index: 2 },
      { type: 'stock-reserved', n: 3, index: 3 },
    ])
    // One call, one moment: every event of the batch carries the same time.
    expect(new Set(stored.map((event) => event._meta?.at)).size).toBe(1)
    expect(storage.calls.at(-1)).toEqual({ count: 3, options: { atomic: true } })
    expect(log.length).toBe(4)
    // A batch of one needs no mark: it is a single record either way.
    await log.appendAll([{ type: 'alone', n: 4 }])
    expect(storage.calls.at(-1)).toEqual({ count: 1, options: undefined })
    await log.close()
  })

  it('shares one atomic write with the batches made beside it; one with options is written alone', async () => {
    const storage = recordingAppends(memoryStorage())
    const log = await initLog<Event>({ storage })
    const condition = { types: ['never'], after: -1 }
    const batches = await Promise.all([
      log.appendAll([
        { type: 'a', n: 0 },
        { type: 'a', n: 1 },
      ]),
      log.appendAll([{ type: 'b', n: 2 }]),
      log.appendAll(
        [
          { type: 'c', n: 3 },
          { type: 'c', n: 4 },
        ],
        { condition },
      ),
      log.appendAll([
        { type: 'd', n: 5 },
        { type: 'd', n: 6 },
        { type: 'd', n: 7 },
      ]),
    ])
    expect(batches.map((batch) => batch.map((event) => event.index))).toEqual([[0, 1], [2], [3, 4], [5, 6, 7]])
    expect(batches.flat().map((event) => event.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(storage.calls).toEqual([
      { count: 3, options: { atomic: true } },
      { count: 2, options: { condition, atomic: true } },
      { count: 3, options: { atomic: true } },
    ])
    await log.close()
  })

  it('keeps its place in call order among un-awaited single appends and other batches', async () => {
    const log = await initLog<Event>({ storage: memoryStorage() })
    const calls = [
      log.append({ type: 'single', n: 0 }),
      log.appendAll([
        { type: 'batch', n: 1 },
        { type: 'batch', n: 2 },
      ]),
      log.append({ type: 'single', n: 3 }),
      log.appendAll([
        { type: 'batch', n: 4 },
        { type: 'batch', n: 5 },
        { type: 'batch', n: 6 },
      ]),
      log.append({ type: 'single', n: 7 }),
    ]
    const settled = (await Promise.all(calls)).flat()
    expect(settled.map((event) => [event.n, event.index])).toEqual(Array.from({ length: 8 }, (_, n) => [n, n]))
    const replayed = []
    for await (const event of log.events()) {
      replayed.push(event.n)
      if (event.index === 7) break
    }
    expect(replayed).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    await log.close()
  })

  it('writes a batch to a file as lines of the usual format, and reads it back', async () => {
    const filename = join(await tempDir('append-all'), `${randomUUID()}.ndjson`)
    const log = await initLog<Event>({ filename })
    await log.appendAll([
      { type: 'a', n: 0 },
      { type: 'b', n: 1 },
    ])
    await log.close()
    const reopened = await initLog<Event>({ filename })
    expect(reopened.length).toBe(2)
    const events = []
    for await (const event of reopened.events()) {
      events.push(event)
      if (event.index === 1) break
    }
    expect(events).toMatchObject([
      { type: 'a', n: 0, index: 0 },
      { type: 'b', n: 1, index: 1 },
    ])
    await reopened.close()
    const lines = (await readFile(filename, 'utf8')).trim().split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[1]).toMatch(/^\{"type":"b","n":1,"_meta":\{"at":"[^"]+"\},"index":1\}$/)
  })

  it('applies expectedLastIndex to the batch as a whole: all land, or none', async () => {
    const storage = memoryStorage()
    const log = await initLog<Event>({ storage })
    await log.append({ type: 'first', n: 0 })
    const landed = await log.appendAll(
      [
        { type: 'a', n: 1 },
        { type: 'b', n: 2 },
      ],
      { expectedLastIndex: 0 },
    )
    expect(landed.map((event) => event.index)).toEqual([1, 2])
    const stale = log.appendAll(
      [
        { type: 'c', n: 3 },
        { type: 'd', n: 4 },
      ],
      { expectedLastIndex: 0 },
    )
    await expect(stale).rejects.toBeInstanceOf(AppendConflictError)
    await expect(stale).rejects.toMatchObject({ code: 'APPEND_CONFLICT', expectedLastIndex: 0, actualLastIndex: 2 })
    expect((await everything(storage)).map((event) => event.n)).toEqual([0, 1, 2])
    expect(log.length).toBe(3)
    await log.close()
  })

  it('refuses an empty list, or something not a list, naming it; nothing is written', async () => {
    const storage = recordingAppends(memoryStorage())
    const log = await initLog<Event>({ storage })
    await expect(log.appendAll([])).rejects.toThrow(/appendAll\(events\) takes a non-empty array of events, got an empty array; nothing was written/)
    await expect(log.appendAll([])).rejects.toBeInstanceOf(TypeError)
    await expect(log.appendAll({ type: 'x', n: 0 } as never)).rejects.toThrow(/takes a non-empty array of events, got \[object Object\]/)
    await expect(log.appendAll(undefined as never)).rejects.toThrow(/got undefined/)
    expect(storage.calls).toEqual([])
    expect(log.length).toBe(0)
    await log.close()
  })

  it('refuses the whole batch for one event JSON cannot carry, naming its place in the list', async () => {
    const storage = recordingAppends(memoryStorage())
    const log = await initLog<Event>({ storage })
    const refused = log.appendAll([
      { type: 'fine', n: 0 },
      { type: 'fine', n: 1 },
      { type: 'bad', n: 2, when: new Date(0) },
    ])
    await expect(refused).rejects.toBeInstanceOf(InvalidEventError)
    await expect(refused).rejects.toMatchObject({ code: 'INVALID_EVENT' })
    await expect(refused).rejects.toThrow(/events\[2\] refused, nothing was written: event\.when is a Date/)
    expect(storage.calls).toEqual([])
    // No index was used up.
    expect((await log.append({ type: 'next', n: 3 })).index).toBe(0)
    await log.close()
  })

  it('is refused on a read-only log and after close', async () => {
    const storage = memoryStorage()
    const follower = await initLog<Event>({ storage, readOnly: true })
    await expect(follower.appendAll([{ type: 'a', n: 0 }])).rejects.toThrow(/readOnly: true/)
    await follower.close()
    const log = await initLog<Event>({ storage })
    await log.close()
    await expect(log.appendAll([{ type: 'a', n: 0 }])).rejects.toMatchObject({ code: 'LOG_CLOSED' })
  })
})
