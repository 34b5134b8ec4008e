/**
 * Filtered reads of the file storage: lines that cannot hold a selected
 * event are stepped over without parsing (line-prefilter.ts), yet every
 * selected event is delivered, however its line is written, and damage that
 * changes the lines' framing is reported as by an unfiltered read.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CorruptLogError, fileStorage, type Indexed } from '../../src/index.js'
import { type EventFilter, matchesFilter } from '../../src/core/filter.js'
import { canStepOver, linePrefilter, StepOverPolicy } from '../../src/file/line-prefilter.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterAll(removeTempDirs)

/** Lines written every way a careful tool or a person might: all are events 0, 1, 2, … */
const lines = [
  '{"type":"bookmark","url":"https://a.example","index":0}',
  '{"type": "bookmark", "url": "https://b.example", "index": 1}', // spaced by hand
  '{"type":"bookm\\u0061rk","url":"https://c.example","index":2}', // an escape spelling the type
  '{"type":"info","url":"https://a.example","index":3}',
  '{"type":"info","about":{"type":"bookmark"},"index":4}', // the type text nested: parsed, not selected
  '{"url":"https://a.example","type":"bookmark","_meta":{"at":"2026-12-01T21:30:00.123Z"},"index":5}\r', // CRLF, keys reordered
  '   ',
  '{"type":"bookmark","url":"https://d.example","_meta":{"batchRemaining":1},"index":6}',
  '{"type":"info","url":"https://d.example","index":7}',
  '{"type":"bookmark","url":"https:\\/\\/a.example","index":8}', // an escaped slash
  '{"type":"info","n":"\\"bookmark\\"","index":9}', // the text inside a string, escaped
]

async function logOf(content: string[]): Promise<string> {
  const filename = join(await tempDir('filtered'), 'log.ndjson')
  await writeFile(filename, `${content.join('\n')}\n`)
  return filename
}

async function read(filename: string, filter?: EventFilter): Promise<Indexed<Record<string, unknown>>[]> {
  const storage = fileStorage(filename)
  await storage.open({ readOnly: true })
  const events: Indexed<Record<string, unknown>>[] = []
  try {
    for await (const batch of storage.read(0, filter)) events.push(...batch)
  } finally {
    await storage.close()
  }
  return events
}

describe('a filtered read of the file', () => {
  const filters: EventFilter[] = [
    { types: ['bookmark'] },
    { types: ['info', 'bookmark'] },
    { types: ['bookmark'], where: { url: 'https://a.example' } },
    { where: { url: 'https://d.example' } },
    { where: { about: { type: 'bookmark' } } },
    { types: ['none'] },
  ]

  it.each(filters)('delivers every event %j selects, however its line is written', async (filter) => {
    const filename = await logOf(lines)
    const all = await read(filename)
    expect(all.map((event) => event.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    const filtered = await read(filename, filter)
    expect(filtered.filter((event) => matchesFilter(event, filter))).toEqual(all.filter((event) => matchesFilter(event, filter)))
  })

  it('steps over lines that cannot match, and parses all the others', () => {
    const prefilter = linePrefilter({ types: ['bookmark'], where: { url: 'https://a.example' } })!
    expect(canStepOver('{"type":"info","url":"https://a.example","index":3}', 3, prefilter)).toBe(true)
    expect(canStepOver('{"type":"bookmark","url":"https://z.example","index":3}', 3, prefilter)).toBe(true)
    expect(canStepOver('{"type":"bookmark","url":"https://a.example","index":3}', 3, prefilter)).toBe(false)
    expect(canStepOver('{"type":"info","url":"https://a.example","index":3}', 4, prefilter)).toBe(false) // not the index expected
    expect(canStepOver('{"type":"info","url":"x\\u0041","index":3}', 3, prefilter)).toBe(false) // an escape
    expect(canStepOver('garbage,"index":3}', 3, prefilter)).toBe(false)
    expect(linePrefilter({ where: { n: 3, ok: true } })).toBeUndefined() // nothing to look for: every line is parsed
  })

  it('tests lines chunk by chunk only while most can be stepped over, and samples one chunk in eight otherwise', () => {
    const policy = new StepOverPolicy()
    expect(policy.testNextChunk()).toBe(true)
    policy.tested(400, 360)
    expect(policy.testNextChunk()).toBe(true)
    policy.tested(400, 100) // most lines were parsed anyway: testing them did not pay
    expect(Array.from({ length: 8 }, () => policy.testNextChunk())).toEqual([false, false, false, false, false, false, false, true])
    policy.tested(400, 399)
    expect(policy.testNextChunk()).toBe(true)
  })

  it('delivers the same events over a long log whose mix of types changes, as the testing is turned off and on', async () => {
    // 20,000 events: mostly bookmarks first (little to step over), then mostly infos, then bookmarks again.
    const content = Array.from({ length: 20_000 }, (_, n) => {
      const phase = Math.floor(n / 5000)
      const type = (phase === 1 || phase === 2 ? n % 10 === 0 : n % 10 !== 0) ? 'bookmark' : 'info'
      return JSON.stringify({ type, url: `https://example.com/${n}`, index: n })
    })
    const filename = await logOf(content)
    const filtered = await read(filename, { types: ['bookmark'] })
    const expected = content.map((line) => JSON.parse(line) as Indexed<Record<string, unknown>>).filter((event) => event.type === 'bookmark')
    expect(filtered.filter((event) => event.type === 'bookmark')).toEqual(expected)
  })

  it('reports a misnumbered or foreign line among those it steps over, as an unfiltered read does', async () => {
    for (const damaged of ['{"type":"info","index":2}', 'garbage', '{"type":"info","index":"1"}']) {
      // Opening checks the last two lines only: the damage is before them.
      const filename = await logOf(['{"type":"info","index":0}', damaged, '{"type":"info","index":1}', '{"type":"bookmark","index":2}'])
      const error = await read(filename, { types: ['bookmark'] }).catch((error: unknown) => error)
      expect(error, damaged).toBeInstanceOf(CorruptLogError)
      expect((error as CorruptLogError).line).toBe(2)
    }
  })

  it('leaves damage inside a stepped-over line whose framing is intact to unfiltered reads, which report it', async () => {
    const filename = await logOf(['{"type":"info","index":0}', '{"type":"info",,"index":1}', '{"type":"bookmark","index":2}', '{"type":"info","index":3}'])
    expect((await read(filename, { types: ['bookmark'] })).map((event) => event.index)).toEqual([2])
    const error = await read(filename).catch((error: unknown) => error)
    expect(error).toBeInstanceOf(CorruptLogError)
    expect((error as CorruptLogError).line).toBe(2)
  })
})
