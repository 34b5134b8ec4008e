import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { initLog, memoryStorage, type Indexed, type Log } from '../../src/index.js'
import { timeOnly } from '../helpers/meta.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

// The README's worked example: events were first stored as `{ type, url }`;
// the current shape follows Flux Standard Action, `{ type, payload: { url } }`.
interface BookmarkEvent {
  type: 'bookmark'
  payload: { url: string }
}
interface InfoEvent {
  type: 'info'
  payload: { url: string; title: string }
}
type DomainEvent = BookmarkEvent | InfoEvent

// Typed to return the log's event type, as `upcast` must be; the old shapes are not typed here.
function toPayloadShape(stored: Record<string, unknown>): DomainEvent {
  if ('payload' in stored) return stored as unknown as DomainEvent
  const { type, index: _index, _meta: _stored, ...payload } = stored
  return { type, payload } as DomainEvent
}

afterAll(removeTempDirs)

async function tempFile(name = 'log.ndjson'): Promise<string> {
  return join(await tempDir('upcast'), name)
}

/** The first `count` events of an iterator, then it is released. */
async function take<E>(events: AsyncIterableIterator<E>, count: number): Promise<E[]> {
  const taken: E[] = []
  if (count === 0) return taken
  for await (const event of events) {
    taken.push(event)
    if (taken.length === count) break
  }
  return taken
}

/** A file written by an earlier version of the prototype, in the old shape (and by 0.2.x: without _meta). */
async function oldShapedLog(filename: string): Promise<string> {
  const old = await initLog({ filename, metadata: false })
  await old.append({ type: 'bookmark', url: 'https://example.com' })
  await old.append({ type: 'info', url: 'https://example.com', title: 'Example' })
  await old.append({ type: 'bookmark', url: 'https://nodejs.org' })
  await old.close()
  return readFile(filename, 'utf8')
}

describe('initLog({ upcast })', () => {
  it('replays old-shaped events in the current shape, keeps indices and never rewrites the file', async () => {
    const filename = await tempFile()
    const before = await oldShapedLog(filename)
    const log = await initLog<DomainEvent>({ filename, upcast: toPayloadShape })
    expect(await take(log.events(), 3)).toEqual([
      { type: 'bookmark', payload: { url: 'https://example.com' }, index: 0 },
      { type: 'info', payload: { url: 'https://example.com', title: 'Example' }, index: 1 },
      { type: 'bookmark', payload: { url: 'https://nodejs.org' }, index: 2 },
    ])
    await log.close()
    expect(await readFile(filename, 'utf8')).toBe(before)
  })

  it('passes events of the current shape through, old and new mixed in one log', async () => {
    const filename = await tempFile()
    await oldShapedLog(filename)
    const log = await initLog<DomainEvent>({ filename, upcast: toPayloadShape })
    const stored = await log.append({ type: 'bookmark', payload: { url: 'https://vitest.dev' } })
    expect(stored).toEqual({ type: 'bookmark', payload: { url: 'https://vitest.dev' }, _meta: timeOnly, index: 3 })
    const replayed = await take(log.events(), 4)
    expect(replayed.map((event) => event.payload.url)).toEqual(['https://example.com', 'https://example.com', 'https://nodejs.org', 'https://vitest.dev'])
    await log.close()
    // The file holds each event as it was appended: old lines untouched, the new one in the new shape.
    const lines = (await readFile(filename, 'utf8')).trimEnd().split('\n')
    expect(JSON.parse(lines[0]!)).toEqual({ type: 'bookmark', url: 'https://example.com', index: 0 })
    expect(JSON.parse(lines[3]!)).toEqual({ type: 'bookmark', payload: { url: 'https://vitest.dev' }, _meta: timeOnly, index: 3 })
  })

  it('upcasts events a waiting iterator receives as they are appended (tail)', async () => {
    const filename = await tempFile()
    await oldShapedLog(filename)
    const seen: unknown[] = []
    const log = await initLog<DomainEvent>({
      filename,
      upcast: (stored) => {
        seen.push(stored)
        return toPayloadShape(stored)
      },
    })
    const tail = take(log.events({ after: 2 }), 2)
    // Appended in the old shape, as an old writer would: the reader still gets the new one.
    await log.append({ type: 'bookmark', url: 'https://old-writer.example' } as unknown as DomainEvent)
    await log.append({ type: 'bookmark', payload: { url: 'https://new-writer.example' } })
    expect(await tail).toEqual([
      { type: 'bookmark', payload: { url: 'https://old-writer.example' }, _meta: timeOnly, index: 3 },
      { type: 'bookmark', payload: { url: 'https://new-writer.example' }, _meta: timeOnly, index: 4 },
    ])
    // upcast got the stored object, index and _meta included.
    expect(seen[0]).toEqual({ type: 'bookmark', url: 'https://old-writer.example', _meta: timeOnly, index: 3 })
    await log.close()
  })

  it('starts events({ after }) at the right event and upcasts only what it delivers', async () => {
    const filename = await tempFile()
    const writer = await initLog({ filename, metadata: false })
    for (let n = 0; n < 500; n++) await writer.append({ type: 'bookmark', url: `https://example.com/${n}` })
    await writer.close()
    const upcasted: number[] = []
    const log = await initLog<DomainEvent>({
      filename,
      upcast: (stored) => {
        upcasted.push(stored.index)
        return toPayloadShape(stored)
      },
    })
    const events = await take(log.events({ after: 449 }), 50)
    expect(events[0]).toEqual({ type: 'bookmark', payload: { url: 'https://example.com/450' }, index: 450 })
    expect(events.at(-1)!.index).toBe(499)
    expect(upcasted).toEqual(events.map((event) => event.index))
    await log.close()
  })

  it('keeps the stored index even when upcast returns another one', async () => {
    const storage = memoryStorage()
    const writer = await initLog({ storage, metadata: false })
    await writer.append({ type: 'renamed-later' })
    await writer.close()
    const log = await initLog({ storage, upcast: (stored) => ({ ...stored, type: 'renamed', index: 99 }) })
    expect(await take(log.events(), 1)).toEqual([{ type: 'renamed', index: 0 }])
    await log.close()
  })

  it('lets a read-only follower upcast what another log appends', async () => {
    const filename = await tempFile()
    await oldShapedLog(filename)
    const writer = await initLog({ filename })
    const follower = await initLog<DomainEvent>({ filename, readOnly: true, upcast: toPayloadShape })
    const followed = take(follower.events({ after: 2 }), 2)
    await writer.append({ type: 'bookmark', url: 'https://a.example' })
    await writer.append({ type: 'info', url: 'https://a.example', title: 'A' })
    expect(await followed).toEqual([
      { type: 'bookmark', payload: { url: 'https://a.example' }, _meta: timeOnly, index: 3 },
      { type: 'info', payload: { url: 'https://a.example', title: 'A' }, _meta: timeOnly, index: 4 },
    ])
    await follower.close()
    await writer.close()
  })

  it('ends the iteration with the error upcast throws, naming the event', async () => {
    const filename = await tempFile()
    await writeFile(filename, '{"type":"bookmark","url":"https://a.example","index":0}\n{"type":"mystery","index":1}\n')
    const log = await initLog({
      filename,
      upcast: (stored) => {
        if (stored.type === 'mystery') throw new Error('no upcast for type "mystery"')
        return stored
      },
    })
    const delivered: unknown[] = []
    await expect(
      (async () => {
        for await (const event of log.events()) delivered.push(event)
      })(),
    ).rejects.toThrow(
      expect.objectContaining({
        code: 'UPCAST_FAILED',
        index: 1,
        message: expect.stringMatching(/event 1 .*no upcast for type "mystery"/),
      }),
    )
    expect(delivered).toEqual([{ type: 'bookmark', url: 'https://a.example', index: 0 }])
    await log.close()
  })

  it('refuses an upcast result that is not an object, naming the event', async () => {
    const storage = memoryStorage({ name: 'shapes' })
    const writer = await initLog({ storage })
    await writer.append({ type: 'a' })
    await writer.close()
    const log = await initLog({ storage, upcast: () => undefined as unknown as Record<string, unknown> })
    await expect(take(log.events(), 1)).rejects.toThrow(/upcast .*event 0 of shapes.*undefined/)
    await log.close()
  })

  it('delivers exactly upcast(stored) for every event from any starting point (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ type: fc.constantFrom('a', 'b', 'c'), n: fc.integer(), url: fc.option(fc.webUrl(), { nil: undefined }) }), {
          maxLength: 40,
        }),
        fc.nat(),
        async (events, start) => {
          const storage = memoryStorage()
          const writer = await initLog({ storage })
          const stored: Indexed<Record<string, unknown>>[] = []
          for (const event of events) stored.push(await writer.append(event))
          await writer.close()
          const after = events.length === 0 ? -1 : (start % (events.length + 1)) - 1
          const log: Log<DomainEvent> = await initLog({ storage, upcast: toPayloadShape })
          const delivered = await take(log.events({ after }), events.length - after - 1)
          await log.close()
          const expected = stored
            .slice(after + 1)
            .map((event) => ({ ...toPayloadShape(JSON.parse(JSON.stringify(event))), _meta: event._meta, index: event.index }))
          expect(delivered).toEqual(expected)
        },
      ),
      { numRuns: 100 },
    )
  })
})
