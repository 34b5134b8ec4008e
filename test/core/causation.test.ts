import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type Indexed, type InitLogOptions, initLog, memoryStorage } from '../../src/index.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterAll(removeTempDirs)

type Event = { type: string; n?: number; url?: string }

const places: [string, () => Promise<{ options: InitLogOptions; lines: () => Promise<string[]> }>][] = [
  [
    'a file',
    async () => {
      const filename = join(await tempDir('causation'), 'log.ndjson')
      return { options: { filename }, lines: async () => (await readFile(filename, 'utf8')).trim().split('\n') }
    },
  ],
  [
    'memory',
    async () => {
      const storage = memoryStorage()
      return {
        options: { storage },
        lines: async () => {
          const lines: string[] = []
          for await (const batch of storage.read(0)) for (const event of batch) lines.push(JSON.stringify(event))
          return lines
        },
      }
    },
  ],
]

async function readAll(options: InitLogOptions): Promise<Indexed<Event>[]> {
  const log = await initLog<Event>(options)
  const events: Indexed<Event>[] = []
  if (log.length > 0) {
    for await (const event of log.events()) {
      events.push(event)
      if (event.index === log.length - 1) break
    }
  }
  await log.close()
  return events
}

describe.each(places)('causedBy and correlationId on %s', (_name, makePlace) => {
  it('stores them in _meta after the time, in the line format of the file-formats page', async () => {
    const place = await makePlace()
    const log = await initLog<Event>(place.options)
    for (let n = 0; n < 3; n++) await log.append({ type: 'tick', n })
    const bookmark = await log.append({ type: 'bookmark', url: 'https://a.example' }, { causedBy: 3 - 1, correlationId: 'c-1' })
    await log.close()
    expect(bookmark._meta).toEqual({ at: expect.any(String), causedBy: 2, correlationId: 'c-1' })
    expect((await place.lines())[3]).toBe(
      `{"type":"bookmark","url":"https://a.example","_meta":{"at":"${bookmark._meta!.at}","causedBy":2,"correlationId":"c-1"},"index":3}`,
    )
  })

  it('passes the correlationId on from the cause, given as an event or as an index, and lets an explicit one win', async () => {
    const place = await makePlace()
    const log = await initLog<Event>(place.options)
    const root = await log.append({ type: 'request' }, { correlationId: 'req-7' })
    const byEvent = await log.append({ type: 'step' }, { causedBy: root })
    const byIndex = await log.append({ type: 'step' }, { causedBy: byEvent.index })
    const renamed = await log.append({ type: 'step' }, { causedBy: byIndex, correlationId: 'other' })
    const next = await log.append({ type: 'step' }, { causedBy: renamed })
    expect([root, byEvent, byIndex, renamed, next].map((event) => event._meta?.correlationId)).toEqual(['req-7', 'req-7', 'req-7', 'other', 'other'])
    expect([root, byEvent, byIndex, renamed, next].map((event) => event._meta?.causedBy)).toEqual([undefined, 0, 1, 2, 3])
    await log.close()
    expect(await readAll(place.options)).toEqual([root, byEvent, byIndex, renamed, next])
  })

  it('gives a root event no correlationId unless one is given, and its effects none either', async () => {
    const place = await makePlace()
    const log = await initLog<Event>(place.options)
    const root = await log.append({ type: 'bookmark' })
    const effect = await log.append({ type: 'info' }, { causedBy: root })
    expect(root._meta).toEqual({ at: expect.any(String) })
    expect(effect._meta).toEqual({ at: expect.any(String), causedBy: 0 })
    await log.close()
  })

  it('reads a cause given by index from the storage when the log opened after it was written', async () => {
    const place = await makePlace()
    const first = await initLog<Event>(place.options)
    await first.append({ type: 'request' }, { correlationId: 'from-before' })
    for (let n = 0; n < 5000; n++) void first.append({ type: 'filler', n })
    await first.close()
    const log = await initLog<Event>(place.options)
    // Un-awaited, with plain appends around it: they still land in call order.
    const landed = await Promise.all([
      log.append({ type: 'before' }),
      log.append({ type: 'effect' }, { causedBy: 0 }),
      log.append({ type: 'after' }),
      log.append({ type: 'effect-of-filler' }, { causedBy: 1 }),
    ])
    expect(landed.map((event) => [event.type, event.index, event._meta?.causedBy, event._meta?.correlationId])).toEqual([
      ['before', 5001, undefined, undefined],
      ['effect', 5002, 0, 'from-before'],
      ['after', 5003, undefined, undefined],
      ['effect-of-filler', 5004, 1, undefined],
    ])
    const times = landed.map((event) => event._meta!.at!)
    expect([...times].sort()).toEqual(times)
    await log.close()
  })

  it('refuses a cause the log does not hold and values of the wrong kind, writing nothing and using no index', async () => {
    const place = await makePlace()
    const log = await initLog<Event>(place.options)
    const zero = await log.append({ type: 'a' })
    await expect(log.append({ type: 'x' }, { causedBy: 1 })).rejects.toThrow(/holds no event 1 \(it has 1\); give the index of a stored event/)
    await expect(log.append({ type: 'x' }, { causedBy: 7, correlationId: 'c' })).rejects.toThrow(/holds no event 7/)
    for (const bad of [-1, 1.5, Number.NaN, '0', null]) {
      await expect(log.append({ type: 'x' }, { causedBy: bad as never })).rejects.toThrow(TypeError)
    }
    await expect(log.append({ type: 'x' }, { causedBy: { ...zero, index: 3 } })).rejects.toThrow(/got an object with index 3, not an event of/)
    await expect(log.append({ type: 'x' }, { causedBy: { type: 'no index' } as never })).rejects.toThrow(/index undefined/)
    for (const bad of ['', 5, {}]) {
      await expect(log.append({ type: 'x' }, { correlationId: bad as never })).rejects.toThrow(/correlationId \}\) takes a non-empty string/)
    }
    // A refused lookup does not hold up the appends behind it.
    const [refused, after] = await Promise.allSettled([log.append({ type: 'x' }, { causedBy: 99 }), log.append({ type: 'b' }, { causedBy: 0 })])
    expect(refused.status).toBe('rejected')
    expect(after).toMatchObject({ status: 'fulfilled', value: { type: 'b', index: 1 } })
    await log.close()
    expect((await readAll(place.options)).map((event) => event.type)).toEqual(['a', 'b'])
  })

  it('writes an append still waiting for its cause to be read before close() resolves', async () => {
    const place = await makePlace()
    const first = await initLog<Event>(place.options)
    for (let n = 0; n < 5000; n++) void first.append({ type: 'filler', n })
    await first.close()
    const log = await initLog<Event>(place.options)
    const pending = log.append({ type: 'effect' }, { causedBy: 10 })
    await log.close()
    expect(await pending).toMatchObject({ type: 'effect', index: 5000, _meta: { causedBy: 10 } })
    expect((await readAll(place.options)).at(-1)).toMatchObject({ type: 'effect', _meta: { causedBy: 10 } })
  })
})
