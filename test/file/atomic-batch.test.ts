/**
 * Atomic batches in the file: how a batch is marked (atomic-batch.ts), that
 * the mark never reaches a reader, that a batch cut short at any byte is set
 * aside whole on open, and that a follower never sees part of one.
 */
import { appendFile, open, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CorruptLogError, fileStorage, type Indexed } from '../../src/index.js'
import { markBatchLine } from '../../src/file/atomic-batch.js'
import { FileShrankError, LogFile } from '../../src/file/log-file.js'
import type { LogStorage } from '../../src/core/log-storage.js'
import { run } from '../cli/run.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterAll(removeTempDirs)

// Each set-aside batch warns once; collected here instead of printed.
let warnings: Error[] = []
const collectWarning = (warning: Error) => warnings.push(warning)
let printers: ((warning: Error) => void)[] = []
beforeEach(() => {
  warnings = []
  printers = process.listeners('warning')
  process.removeAllListeners('warning')
  process.on('warning', collectWarning)
})
afterEach(() => {
  process.removeAllListeners('warning')
  for (const printer of printers) process.on('warning', printer)
})

async function readAll(storage: LogStorage, from = 0): Promise<Indexed<Record<string, unknown>>[]> {
  const events: Indexed<Record<string, unknown>>[] = []
  for await (const batch of storage.read(from)) events.push(...batch)
  return events
}

async function freshLogPath(): Promise<string> {
  return join(await tempDir('batch'), 'log.ndjson')
}

const at = '2026-12-01T21:30:00.123Z'

describe('markBatchLine', () => {
  it('adds the count of lines to come inside a trailing _meta, keeping _meta last', () => {
    expect(markBatchLine(`{"type":"a","_meta":{"at":"${at}"}}`, 2)).toBe(`{"type":"a","_meta":{"at":"${at}","batchRemaining":2}}`)
    expect(markBatchLine('{"type":"a","_meta":{}}', 1)).toBe('{"type":"a","_meta":{"batchRemaining":1}}')
    expect(markBatchLine('{"_meta":{"causedBy":3}}', 1)).toBe('{"_meta":{"causedBy":3,"batchRemaining":1}}')
  })

  it('gives a record without _meta one, as its last field', () => {
    expect(markBatchLine('{"type":"a","n":1}', 5)).toBe('{"type":"a","n":1,"_meta":{"batchRemaining":5}}')
    expect(markBatchLine('{}', 1)).toBe('{"_meta":{"batchRemaining":1}}')
  })

  it('leaves nested _meta fields of the event alone', () => {
    const nested = '{"type":"a","inner":{"_meta":{"x":1}}}'
    expect(JSON.parse(markBatchLine(nested, 1))).toEqual({ type: 'a', inner: { _meta: { x: 1 } }, _meta: { batchRemaining: 1 } })
    const inArray = '{"list":[{"_meta":{"x":"}}"}}]}'
    expect(JSON.parse(markBatchLine(inArray, 1))).toEqual({ list: [{ _meta: { x: '}}' } }], _meta: { batchRemaining: 1 } })
    const inString = `{"text":"\\",\\"_meta\\":{","_meta":{"correlationId":"a\\"}}"}}`
    expect(JSON.parse(markBatchLine(inString, 3))).toEqual({ text: '","_meta":{', _meta: { correlationId: 'a"}}', batchRemaining: 3 } })
  })
})

describe('an atomic batch in the file', () => {
  it('marks every line but its last; single appends and non-atomic batches are unmarked; readers never see the mark', async () => {
    const filename = await freshLogPath()
    const storage = fileStorage(filename)
    await storage.open()
    await storage.append(['{"type":"single"}'])
    await storage.append([`{"type":"a","_meta":{"at":"${at}"}}`, '{"type":"b"}', '{"type":"c"}'], { atomic: true })
    await storage.append(['{"type":"d"}', '{"type":"e"}'])
    await storage.append(['{"type":"alone"}'], { atomic: true })
    expect((await readFile(filename, 'utf8')).split('\n')).toEqual([
      '{"type":"single","index":0}',
      `{"type":"a","_meta":{"at":"${at}","batchRemaining":2},"index":1}`,
      '{"type":"b","_meta":{"batchRemaining":1},"index":2}',
      '{"type":"c","index":3}',
      '{"type":"d","index":4}',
      '{"type":"e","index":5}',
      '{"type":"alone","index":6}',
      '',
    ])
    const expected = [
      { type: 'single', index: 0 },
      { type: 'a', _meta: { at }, index: 1 },
      { type: 'b', index: 2 },
      { type: 'c', index: 3 },
      { type: 'd', index: 4 },
      { type: 'e', index: 5 },
      { type: 'alone', index: 6 },
    ]
    expect(await readAll(storage)).toEqual(expected)
    await storage.close()
    const reopened = fileStorage(filename)
    expect(await reopened.open()).toBe(7)
    expect(await readAll(reopened, 2)).toEqual(expected.slice(2))
    await reopened.close()
    expect(warnings).toEqual([])
  })

  it('cut short at any byte, is set aside whole on open, with one warning; the log continues before it', async () => {
    const filename = await freshLogPath()
    const writer = fileStorage(filename)
    await writer.open()
    await writer.append(['{"type":"before","n":0}', '{"type":"before","n":1}'])
    await writer.append(['{"type":"in","n":0}', '{"type":"in","n":1,"_meta":{"correlationId":"é✓"}}', '{"type":"in","n":2}'], { atomic: true })
    await writer.close()
    const whole = await readFile(filename)
    const batchStart = whole.indexOf('{"type":"in"')
    const dir = join(filename, '..')
    for (let cut = batchStart + 1; cut < whole.length; cut++) {
      await writeFile(filename, whole.subarray(0, cut))
      warnings = []
      const storage = fileStorage(filename)
      const length = await storage.open()
      const kept = whole.length - cut === 1 // only the batch's last newline missing: every event is there
      expect(length, `cut at byte ${cut}`).toBe(kept ? 5 : 2)
      expect((await readAll(storage)).map((event) => event.type)).toEqual(kept ? ['before', 'before', 'in', 'in', 'in'] : ['before', 'before'])
      expect(await storage.append(['{"type":"after"}'])).toBe(length)
      await storage.close()
      const asides = (await readdir(dir)).filter((name) => name.includes('.torn-'))
      if (kept) {
        expect(asides).toEqual([])
        expect(warnings).toEqual([])
        continue
      }
      expect(asides).toHaveLength(1)
      expect(await readFile(join(dir, asides[0]!)), `cut at byte ${cut}`).toEqual(whole.subarray(batchStart, cut))
      expect(warnings).toHaveLength(1)
      expect((warnings[0] as Error & { code?: string }).code).toBe('TINY_EVENT_SOURCING_TORN_TAIL')
      // Before the batch's first line is whole nothing of it is an event yet: a torn last line, said as such.
      const firstLineWhole = cut >= whole.indexOf(0x0a, batchStart)
      expect(warnings[0]!.message).toContain(
        firstLineWhole ? `moved to ${join(dir, asides[0]!)}, whole, and the log continues after event 1.` : 'ended with an incomplete line',
      )
      await rm(join(dir, asides[0]!))
    }
  })

  it('says how many of its events were written, and from which line', async () => {
    const filename = await freshLogPath()
    const writer = fileStorage(filename)
    await writer.open()
    await writer.append(['{"n":0}'])
    await writer.append(['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}'], { atomic: true })
    await writer.close()
    const text = await readFile(filename, 'utf8')
    await writeFile(filename, text.slice(0, text.indexOf('{"n":4')))
    const storage = fileStorage(filename)
    expect(await storage.open()).toBe(1)
    await storage.close()
    expect(warnings[0]!.message).toMatch(/incomplete atomic batch \(appendAll\): 3 of its events \(from line 2, \d+ bytes\)/)
  })

  it('left torn by a crash is not read by a follower, which leaves the file as it is', async () => {
    const filename = await freshLogPath()
    const writer = fileStorage(filename)
    await writer.open()
    await writer.append(['{"n":0}'])
    await writer.append(['{"n":1}', '{"n":2}', '{"n":3}'], { atomic: true })
    await writer.close()
    const text = await readFile(filename, 'utf8')
    const torn = text.slice(0, text.indexOf('{"n":3'))
    await writeFile(filename, torn)
    const follower = fileStorage(filename)
    expect(await follower.open({ readOnly: true })).toBe(1)
    expect(await readAll(follower)).toEqual([{ n: 0, index: 0 }])
    await follower.close()
    expect(await readFile(filename, 'utf8')).toBe(torn)
    expect(warnings).toEqual([])
  })

  it('being written is not read by a follower that opens while only the newline of its last line is missing', async () => {
    const filename = await freshLogPath()
    const writer = fileStorage(filename)
    await writer.open()
    await writer.append(['{"n":0}'])
    await writer.append(['{"n":1}', '{"n":2}'], { atomic: true })
    await writer.close()
    const text = await readFile(filename, 'utf8')
    await writeFile(filename, text.slice(0, -1))
    const follower = fileStorage(filename)
    expect(await follower.open({ readOnly: true })).toBe(1)
    expect(await readAll(follower)).toEqual([{ n: 0, index: 0 }])
    await follower.close()
  })

  it('being written is seen by a follower whole, once its last line is there', async () => {
    const filename = await freshLogPath()
    const writer = fileStorage(filename)
    await writer.open()
    await writer.append(['{"n":0}'])
    await writer.append(['{"n":1}', '{"n":2}', '{"n":3}'], { atomic: true })
    await writer.close()
    const text = await readFile(filename, 'utf8')
    const batchStart = text.indexOf('{"n":1')
    const lastLine = text.indexOf('{"n":3')
    await writeFile(filename, text.slice(0, batchStart))
    const follower = fileStorage(filename)
    expect(await follower.open({ readOnly: true })).toBe(1)
    const lengths: number[] = []
    const stop = follower.watch!((length) => lengths.push(length))
    // The writer's batch lands in pieces: two complete lines, then the last one.
    await appendFile(filename, text.slice(batchStart, lastLine))
    await new Promise((resolve) => setTimeout(resolve, 2500)) // longer than the safety poll
    expect(lengths).toEqual([])
    expect(await readAll(follower)).toHaveLength(1)
    await appendFile(filename, text.slice(lastLine))
    await expect.poll(() => lengths, { timeout: 15_000 }).toEqual([4])
    expect((await readAll(follower)).map((event) => event.n)).toEqual([0, 1, 2, 3])
    stop()
    await follower.close()
  })

  it('left torn is reported by `check`, which changes nothing; once the log was opened, the file is sound', async () => {
    const filename = await freshLogPath()
    const writer = fileStorage(filename)
    await writer.open()
    await writer.append(['{"n":0}'])
    await writer.append(['{"n":1}', '{"n":2}', '{"n":3}'], { atomic: true })
    await writer.close()
    const text = await readFile(filename, 'utf8')
    const torn = text.slice(0, text.indexOf('{"n":3') + 3)
    await writeFile(filename, torn)
    const check = await run(['check', filename])
    expect(check.code).toBe(1)
    expect(check.stdout).toContain(
      `${filename}:2: line 2 starts an atomic batch (appendAll) whose last events are missing (2 of its events are here): a write cut short, most likely by a crash; the next writer to open the log sets the batch aside whole`,
    )
    expect(await readFile(filename, 'utf8')).toBe(torn)
    const reopened = fileStorage(filename)
    expect(await reopened.open()).toBe(1)
    await reopened.close()
    expect(await run(['check', filename])).toMatchObject({ code: 0 })
  })

  it('is never taken from bytes left by a file that shrank while a follower looked at it (a writer setting a batch aside meanwhile)', async () => {
    const filename = await freshLogPath()
    await writeFile(filename, '{"n":0,"index":0}\n{"n":1,"_meta":{"batchRemaining":1},"index":1}\n')
    const file = new LogFile(filename, await open(filename, 'r'))
    // As if the follower's stat had seen the batch's second line, gone by the time it reads.
    await expect(file.lastLine(0, 200)).rejects.toBeInstanceOf(FileShrankError)
    await file.close()
  })

  it('whose marks do not count down to its last line is reported as damage, and nothing is changed', async () => {
    const filename = await freshLogPath()
    const lines = [
      '{"n":0,"index":0}',
      '{"n":1,"_meta":{"batchRemaining":3},"index":1}',
      '{"n":2,"_meta":{"batchRemaining":1},"index":2}',
      '', // a line removed by hand: batchRemaining 2 is missing
    ]
    await writeFile(filename, lines.join('\n'))
    const storage = fileStorage(filename)
    const error = await storage.open().catch((error: unknown) => error)
    expect(error).toBeInstanceOf(CorruptLogError)
    expect((error as CorruptLogError).line).toBe(2)
    expect((error as Error).message).toContain('followed by 3 more lines of its atomic batch')
    expect(await readFile(filename, 'utf8')).toBe(lines.join('\n'))
  })
})
