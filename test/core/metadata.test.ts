import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest'
import { type EventMeta, fileStorage, type Indexed, type InitLogOptions, InvalidEventError, initLog, memoryStorage } from '../../src/index.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { recordingStorage } from '../helpers/recording-storage.js'

afterAll(removeTempDirs)
afterEach(() => {
  vi.useRealTimers()
})

const isoTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

/** A place a log lives that can be opened again, with the stored lines readable as text. */
interface Place {
  options(extra?: Partial<InitLogOptions>): InitLogOptions
  lines(): Promise<string[]>
}

const places: [string, () => Promise<Place>][] = [
  [
    'a file',
    async () => {
      const filename = join(await tempDir('meta'), 'log.ndjson')
      return {
        options: (extra) => ({ filename, ...extra }),
        lines: async () => (await readFile(filename, 'utf8')).split('\n').filter((line) => line !== ''),
      }
    },
  ],
  [
    'memory',
    async () => {
      const storage = memoryStorage()
      return {
        options: (extra) => ({ storage, ...extra }),
        lines: async () => {
          const lines: string[] = []
          for await (const batch of storage.read(0)) for (const event of batch) lines.push(JSON.stringify(event))
          return lines
        },
      }
    },
  ],
]

describe.each(places)('_meta on %s', (_name, makePlace) => {
  it('stores the time of every append under _meta, between the event and its index, and delivers it as stored', async () => {
    const place = await makePlace()
    const log = await initLog<{ type: string; n: number }>(place.options())
    const before = new Date().toISOString()
    const first = await log.append({ type: 'a', n: 1 })
    const second = await log.append({ type: 'b', n: 2 })
    const after = new Date().toISOString()
    expect(first._meta?.at).toMatch(isoTime)
    // ISO 8601 UTC with milliseconds compares as text, as jq compares it.
    expect(first._meta!.at! >= before && second._meta!.at! <= after && first._meta!.at! <= second._meta!.at!).toBe(true)
    const lines = await place.lines()
    expect(lines).toEqual([
      `{"type":"a","n":1,"_meta":{"at":"${first._meta!.at}"},"index":0}`,
      `{"type":"b","n":2,"_meta":{"at":"${second._meta!.at}"},"index":1}`,
    ])
    const delivered: unknown[] = []
    for await (const event of log.events()) {
      delivered.push(event)
      if (event.index === 1) break
    }
    expect(delivered).toEqual([first, second])
    expect(Object.keys(delivered[0] as object)).toEqual(['type', 'n', '_meta', 'index'])
    expect(Object.keys(first)).toEqual(['type', 'n', '_meta', 'index'])
    await log.close()
  })

  it("leaves the user's own fields called at, time, timestamp, meta, createdAt… exactly as given", async () => {
    const place = await makePlace()
    const event = {
      type: 'reading',
      at: 'the office',
      time: 12,
      timestamp: '2020-01-01T00:00:00.000Z',
      meta: { at: 'not ours', causedBy: 'someone' },
      createdAt: null,
      metadata: [1, 2],
      __meta: true,
      index: 99,
    }
    const log = await initLog<typeof event>(place.options())
    const stored = await log.append(event)
    const { index: _given, ...fields } = event
    expect(stored).toEqual({ ...fields, _meta: { at: expect.stringMatching(isoTime) }, index: 0 })
    await log.close()
    const again = await initLog<typeof event>(place.options())
    for await (const read of again.events()) {
      expect(read).toEqual(stored)
      break
    }
    await again.close()
    expect(JSON.parse((await place.lines())[0]!)).toEqual(stored)
  })

  it('gives an empty event _meta as its first field', async () => {
    const place = await makePlace()
    const log = await initLog<Record<string, never>>(place.options())
    const stored = await log.append({})
    expect(await place.lines()).toEqual([`{"_meta":{"at":"${stored._meta!.at}"},"index":0}`])
    await log.close()
  })

  it('refuses an event with a _meta field of its own, naming it; nothing is written and no index is used', async () => {
    const place = await makePlace()
    const log = await initLog<Record<string, unknown>>(place.options())
    const refused = log.append({ type: 'a', _meta: { at: 'yesterday' } })
    await expect(refused).rejects.toBeInstanceOf(InvalidEventError)
    await expect(refused).rejects.toThrow(/event\._meta is where the log keeps its own metadata/)
    // A delivered event appended again as it is: the message says how to copy it.
    const stored = await log.append({ type: 'b' })
    await expect(log.append({ ...stored })).rejects.toThrow(/const \{ index, _meta, \.\.\.event \} = stored/)
    // Refused with metadata: false too: the name belongs to the log either way.
    await log.close()
    const plain = await initLog<Record<string, unknown>>(place.options({ metadata: false }))
    await expect(plain.append({ type: 'c', _meta: 1 })).rejects.toBeInstanceOf(InvalidEventError)
    // undefined is no value: JSON drops it, as for any other field.
    expect(await plain.append({ type: 'd', _meta: undefined })).toEqual({ type: 'd', _meta: undefined, index: 1 })
    await plain.close()
    expect((await place.lines()).map((line) => JSON.parse(line).type)).toEqual(['b', 'd'])
  })

  it("with metadata: false, writes 0.2.x's exact lines", async () => {
    const place = await makePlace()
    const log = await initLog<{ type: string; url?: string }>(place.options({ metadata: false }))
    const stored = await log.append({ type: 'bookmark', url: 'https://a.example' })
    expect(stored).toEqual({ type: 'bookmark', url: 'https://a.example', index: 0 })
    expect('_meta' in stored).toBe(false)
    await log.append({ type: 'x' })
    await expect(log.append({ type: 'y' }, { causedBy: 0 })).rejects.toThrow(/metadata: false, which stores no causedBy or correlationId/)
    await expect(log.append({ type: 'y' }, { correlationId: 'c' })).rejects.toBeInstanceOf(TypeError)
    await log.close()
    expect(await place.lines()).toEqual(['{"type":"bookmark","url":"https://a.example","index":0}', '{"type":"x","index":1}'])
  })

  it('never lets times go back: a clock that jumps back is held at the last time, also across a reopen', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const place = await makePlace()
    const noon = Date.parse('2026-12-01T12:00:00.000Z')
    vi.setSystemTime(noon)
    const log = await initLog<{ n: number }>(place.options())
    expect((await log.append({ n: 0 }))._meta?.at).toBe('2026-12-01T12:00:00.000Z')
    vi.setSystemTime(noon - 3_600_000) // the clock is set back an hour
    const burst = await Promise.all([log.append({ n: 1 }), log.append({ n: 2 })])
    expect(burst.map((event) => event._meta?.at)).toEqual(['2026-12-01T12:00:00.000Z', '2026-12-01T12:00:00.000Z'])
    vi.setSystemTime(noon + 5)
    expect((await log.append({ n: 3 }))._meta?.at).toBe('2026-12-01T12:00:00.005Z')
    await log.close()

    vi.setSystemTime(noon - 86_400_000) // a day back, then the log is opened again
    const again = await initLog<{ n: number }>(place.options())
    expect((await again.append({ n: 4 }))._meta?.at).toBe('2026-12-01T12:00:00.005Z')
    vi.setSystemTime(noon + 10)
    expect((await again.append({ n: 5 }))._meta?.at).toBe('2026-12-01T12:00:00.010Z')
    await again.close()
    const times = (await place.lines()).map((line) => JSON.parse(line)._meta.at as string)
    expect([...times].sort()).toEqual(times)
  })

  it('reads only the last stored event when opened, not the log', async () => {
    const place = await makePlace()
    const log = await initLog<{ n: number }>(place.options())
    for (let n = 0; n < 2000; n++) void log.append({ n })
    await log.append({ n: 2000 })
    await log.close()
    const options = place.options()
    const storage = recordingStorage(options.storage ?? fileStorage(options.filename!))
    const again = await initLog<{ n: number }>({ storage })
    expect(storage.reads).toEqual([2000])
    await again.close()
    // A follower appends nothing and reads nothing on open.
    const followed = recordingStorage(options.storage ?? fileStorage(options.filename!))
    const follower = await initLog<{ n: number }>({ storage: followed, readOnly: true })
    expect(followed.reads).toEqual([])
    await follower.close()
  })

  it('refuses a metadata option that is not a boolean', async () => {
    const place = await makePlace()
    await expect(initLog(place.options({ metadata: 'no' as never }))).rejects.toThrow(/initLog\(\{ metadata \}\) takes true or false, got no/)
  })
})

describe('logs written without _meta (0.2.x, or metadata: false)', () => {
  it('open, replay their events without _meta, take appends with it, and reopen', async () => {
    const filename = join(await tempDir('meta-old'), 'log.ndjson')
    const old = ['{"type":"bookmark","url":"https://a.example","at":1700000000000,"index":0}', '{"type":"info","url":"https://a.example","index":1}']
    await writeFile(filename, `${old.join('\n')}\n`)
    const log = await initLog<{ type: string; url?: string }>({ filename })
    expect(log.length).toBe(2)
    const appended = await log.append({ type: 'bookmark', url: 'https://b.example' })
    expect(appended._meta?.at).toMatch(isoTime)
    await log.close()
    const text = await readFile(filename, 'utf8')
    expect(text.startsWith(`${old.join('\n')}\n`)).toBe(true) // old lines untouched
    const again = await initLog<{ type: string; url?: string }>({ filename })
    const events: Indexed<{ type: string; url?: string }>[] = []
    for await (const event of again.events()) {
      events.push(event)
      if (event.index === 2) break
    }
    await again.close()
    expect(events.map((event) => '_meta' in event)).toEqual([false, false, true])
    expect(events[0]).toEqual({ type: 'bookmark', url: 'https://a.example', at: 1700000000000, index: 0 })
    expect(events[2]).toEqual(appended)
  })
})

describe('upcast and _meta', () => {
  it('receives _meta with the stored event and cannot change it, whatever it returns or changes', async () => {
    const storage = memoryStorage()
    const writer = await initLog<Record<string, unknown>>({ storage, metadata: false })
    await writer.append({ type: 'old' }) // no _meta
    await writer.close()
    const meta = await initLog<Record<string, unknown>>({ storage })
    const stored = await meta.append({ type: 'new' }, { correlationId: 'c-1' })
    await meta.close()

    const seen: unknown[] = []
    const log = await initLog<Record<string, unknown>>({
      storage,
      upcast: (event) => {
        seen.push(structuredClone(event))
        if (event._meta) (event._meta as { at: string }).at = 'changed in place'
        return { ...event, kind: event.type, _meta: { at: 'made up', causedBy: 0 }, index: 42 }
      },
    })
    const delivered: Indexed<Record<string, unknown>>[] = []
    for await (const event of log.events()) {
      delivered.push(event)
      if (event.index === 1) break
    }
    await log.close()
    expect(seen).toEqual([{ type: 'old', index: 0 }, stored])
    expect(delivered[0]).toEqual({ type: 'old', kind: 'old', index: 0 })
    expect('_meta' in delivered[0]!).toBe(false)
    expect(delivered[1]).toEqual({ type: 'new', kind: 'new', _meta: stored._meta, index: 1 })
  })
})

it('types _meta on delivered and appended events', async () => {
  const log = await initLog<{ type: 'a' }>({ storage: memoryStorage() })
  const stored = await log.append({ type: 'a' })
  expectTypeOf(stored._meta).toEqualTypeOf<EventMeta | undefined>()
  expectTypeOf(stored._meta!.at).toEqualTypeOf<string | undefined>()
  expectTypeOf(stored._meta!.causedBy).toEqualTypeOf<number | undefined>()
  expectTypeOf(stored._meta!.correlationId).toEqualTypeOf<string | undefined>()
  for await (const event of log.events()) {
    expectTypeOf(event._meta).toEqualTypeOf<EventMeta | undefined>()
    break
  }
  await log.close()
})
