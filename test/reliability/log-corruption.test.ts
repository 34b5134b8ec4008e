/**
 * Generated damage to log files. Every case must end one of two ways:
 * - the log opens, keeping every valid event, and a torn last line is set
 *   aside (with a warning) in a file beside the log, byte for byte; or
 * - it fails with a CorruptLogError naming the file and the damaged line,
 *   and the file is left exactly as it was.
 * Never another exception, never a valid event silently dropped.
 */
// Written with metadata: false, so that the model and the damaged files
// compare with plain `{ ...event, index }` lines; lines with `_meta` take the
// same paths through recovery and reads (test/file/atomic-batch.test.ts,
// test/file/filtered-read.test.ts, log-crash and log-batch-crash).
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CorruptLogError, initLog, type Indexed } from '../../src/index.js'
import { rounds, tempDir } from './harness.js'

interface Note {
  type: string
  n: number
  text: string
}

type Outcome = { kind: 'opened'; events: Indexed<Note>[]; warnings: Error[] } | { kind: 'failed'; error: unknown; events: Indexed<Note>[]; warnings: Error[] }

const tornTailWarning = 'TINY_EVENT_SOURCING_TORN_TAIL'

// Warnings are collected (and checked) instead of printed: hundreds of
// expected torn-tail warnings would bury the test report.
let warnings: Error[] = []
let printers: ((warning: Error) => void)[] = []
const collectWarning = (warning: Error) => warnings.push(warning)
beforeEach(() => {
  warnings = []
  printers = process.listeners('warning')
  process.removeAllListeners('warning')
  process.on('warning', collectWarning)
})
afterEach(() => {
  process.off('warning', collectWarning)
  for (const printer of printers) process.on('warning', printer)
})

// Multi-byte characters, so that damage can land inside a UTF-8 sequence.
const originals: Note[] = Array.from({ length: 5 }, (_, n) => ({ type: 'note', n, text: `héllo ☃ 𝄞 #${n}` }))

async function writeOriginalLog(filename: string, events: readonly object[] = originals): Promise<Buffer> {
  const log = await initLog({ filename, metadata: false })
  for (const event of events) await log.append(event as Record<string, unknown>)
  await log.close()
  return readFile(filename)
}

/** Opens the log, reads every event it says it has, and closes it; any failure is part of the outcome. */
async function openAndReadAll(filename: string): Promise<Outcome> {
  const events: Indexed<Note>[] = []
  let outcome: Outcome
  try {
    const log = await initLog<Note>({ filename, metadata: false })
    try {
      if (log.length > 0) {
        for await (const event of log.events()) {
          events.push(event)
          if (event.index === log.length - 1) break
        }
      }
    } finally {
      await log.close()
    }
    outcome = { kind: 'opened', events, warnings: [] }
  } catch (error) {
    outcome = { kind: 'failed', error, events, warnings: [] }
  }
  // process.emitWarning delivers on the next tick.
  await new Promise((resolve) => setImmediate(resolve))
  outcome.warnings = warnings.splice(0)
  return outcome
}

async function tornFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.includes('.torn-'))
}

/** 1-based number of the line holding byte `position` (a newline belongs to the line it ends). */
function lineOf(bytes: Buffer, position: number): number {
  let line = 1
  for (let at = bytes.indexOf(0x0a); at !== -1 && at < position; at = bytes.indexOf(0x0a, at + 1)) line++
  return line
}

function expectCorruptError(outcome: Outcome, filename: string, lines: number[]): void {
  expect(outcome.kind).toBe('failed')
  const error = (outcome as { error: unknown }).error
  if (!(error instanceof CorruptLogError)) throw new Error(`expected a CorruptLogError, got: ${String(error)}`, { cause: error })
  expect(error.filename).toBe(filename)
  expect(error.message).toContain(filename)
  expect(lines, `the error names line ${error.line}: ${error.message}`).toContain(error.line)
  expect(error.message).toContain(`:${error.line}`)
}

/** Appends after reopening and checks that the new event continues the old ones. */
async function expectAppendsContinue(filename: string, expected: readonly object[]): Promise<void> {
  const log = await initLog<Note>({ filename, metadata: false })
  const stored = await log.append({ type: 'after', n: -1, text: 'appended after the damage' })
  expect(stored.index).toBe(expected.length)
  await log.close()
  const outcome = await openAndReadAll(filename)
  expect(outcome.kind).toBe('opened')
  expect(outcome.events.map(({ index: _, ...event }) => event)).toEqual([...expected, { type: 'after', n: -1, text: 'appended after the damage' }])
}

/**
 * Appending right after opening, before anything is read, must not hand out
 * the index of an intact event still in the file: either the open refuses the
 * file, or the new index follows every intact event. (Damage in the middle of
 * a file is only found when that part is read; see the guarantees.)
 */
async function expectNoDuplicateIndexFromAppend(filename: string, pristine: Buffer, damaged: Buffer, context: string): Promise<void> {
  await writeFile(filename, damaged)
  let stored: Indexed<Note>
  try {
    const log = await initLog<Note>({ filename, metadata: false })
    try {
      stored = await log.append({ type: 'after', n: -1, text: 'appended after the damage' })
    } finally {
      await log.close()
    }
  } catch (error) {
    expect(error, context).toBeInstanceOf(CorruptLogError)
    return
  }
  const intact = new Set(pristine.toString('latin1').split('\n').slice(0, -1))
  const lines = (await readFile(filename, 'latin1')).split('\n').slice(0, -2)
  for (const line of lines) {
    if (!intact.has(line)) continue
    const { index } = JSON.parse(Buffer.from(line, 'latin1').toString('utf8')) as { index: number }
    expect(index, `${context}; the append was given index ${stored.index}`).toBeLessThan(stored.index)
  }
}

describe('a log file damaged at its end', () => {
  it('recovers from truncation at every byte of the last line', async () => {
    const dir = await tempDir('truncate')
    const pristine = await writeOriginalLog(join(dir, 'pristine.ndjson'))
    const lastLineStart = pristine.lastIndexOf(0x0a, pristine.length - 2) + 1
    for (let cut = lastLineStart; cut <= pristine.length; cut++) {
      const filename = join(dir, `cut-${cut}.ndjson`)
      const damaged = pristine.subarray(0, cut)
      await writeFile(filename, damaged)
      const outcome = await openAndReadAll(filename)
      expect(outcome.kind, `cut at ${cut}: ${String((outcome as { error?: unknown }).error)}`).toBe('opened')
      const fragment = damaged.subarray(lastLineStart)
      const complete = cut >= pristine.length - 1 // only the newline (or nothing) is missing
      const kept = complete ? originals : originals.slice(0, -1)
      expect(outcome.events.map(({ index: _, ...event }) => event)).toEqual(kept)
      const torn = (await tornFiles(dir)).filter((name) => name.startsWith(`cut-${cut}.`))
      if (complete || fragment.length === 0) {
        expect(outcome.warnings).toEqual([])
        expect(torn).toEqual([])
        expect(await readFile(filename)).toEqual(pristine.subarray(0, complete ? pristine.length : cut))
      } else {
        // Set aside byte for byte, with one warning saying where.
        expect(torn).toHaveLength(1)
        expect(await readFile(join(dir, torn[0]!))).toEqual(fragment)
        expect(outcome.warnings.map((warning) => (warning as { code?: string }).code)).toEqual([tornTailWarning])
        expect(outcome.warnings[0]!.message).toContain(torn[0]!)
        expect(await readFile(filename)).toEqual(pristine.subarray(0, lastLineStart))
      }
      await expectAppendsContinue(filename, kept)
    }
  })

  it('sets aside a huge torn last line byte for byte', async () => {
    const dir = await tempDir('huge-torn')
    const filename = join(dir, 'log.ndjson')
    const pristine = await writeOriginalLog(filename)
    const fragment = Buffer.from(`{"type":"note","text":"${'y'.repeat(12 * 1024 * 1024)}`)
    await writeFile(filename, Buffer.concat([pristine, fragment]))
    const outcome = await openAndReadAll(filename)
    expect(outcome.kind).toBe('opened')
    expect(outcome.events).toHaveLength(originals.length)
    const torn = await tornFiles(dir)
    expect(torn).toHaveLength(1)
    expect((await readFile(join(dir, torn[0]!))).equals(fragment)).toBe(true)
    expect(await readFile(filename)).toEqual(pristine)
  })
})

describe('a log file with flipped bytes', () => {
  // Every byte of the file, each damaged several ways: bit flips, a high bit
  // (invalid UTF-8), a newline splitting the line.
  const damages: [string, (byte: number) => number][] = [
    ...[0, 1, 2, 3, 4, 5, 6, 7].map((bit): [string, (byte: number) => number] => [`bit ${bit} flipped`, (byte) => byte ^ (1 << bit)]),
    ['a newline', () => 0x0a],
    ['0xff', () => 0xff],
  ]

  it.each(damages)('opens keeping every intact event, or names the damaged line (%s)', async (_name, damage) => {
    const dir = await tempDir('flip')
    const pristine = await writeOriginalLog(join(dir, 'pristine.ndjson'))
    for (let position = 0; position < pristine.length; position++) {
      const damaged = Buffer.from(pristine)
      damaged[position] = damage(damaged[position]!)
      if (damaged[position] === pristine[position]) continue
      const filename = join(dir, `flip-${position}.ndjson`)
      await writeFile(filename, damaged)
      const outcome = await openAndReadAll(filename)
      const damagedLine = lineOf(damaged, position)
      const context = `byte ${position} (line ${damagedLine}) damaged: ${String((outcome as { error?: unknown }).error)}`
      const torn = (await tornFiles(dir)).filter((name) => name.startsWith(`flip-${position}.`))

      await expectNoDuplicateIndexFromAppend(join(dir, `flip-append-${position}.ndjson`), pristine, damaged, context)
      if (outcome.kind === 'failed') {
        // An index problem shows between two lines, so the next line may be named instead.
        expectCorruptError(outcome, filename, [damagedLine, damagedLine + 1])
        expect((await readFile(filename)).equals(damaged), context).toBe(true)
        expect(torn, context).toEqual([])
        continue
      }
      // Opened: undamaged events are all there, unchanged, in order. The
      // damaged one may read differently if it is still a valid event with
      // the right index (there are no checksums), or it was the torn tail.
      const tornTail = outcome.warnings.some((warning) => (warning as { code?: string }).code === tornTailWarning)
      const expectedCount = tornTail ? originals.length - 1 : originals.length
      expect(outcome.events, context).toHaveLength(expectedCount)
      outcome.events.forEach((event, i) => {
        expect(event.index, context).toBe(i)
        if (i !== damagedLine - 1) expect(event, context).toEqual({ ...originals[i], index: i })
      })
      if (tornTail) {
        expect(torn, context).toHaveLength(1)
        const lastLineStart = pristine.lastIndexOf(0x0a, pristine.length - 2) + 1
        expect((await readFile(join(dir, torn[0]!))).equals(damaged.subarray(lastLineStart)), context).toBe(true)
      } else {
        expect(torn, context).toEqual([])
        expect(outcome.warnings, context).toEqual([])
      }
    }
  })

  it(
    'keeps the same promise for random damage to random logs',
    async () => {
      const dir = await tempDir('flip-random')
      let run = 0
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ type: fc.constantFrom('a', 'b'), n: fc.integer(), text: fc.string({ unit: 'grapheme' }) }), {
            minLength: 1,
            maxLength: 8,
          }),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
          async (events, flips) => {
            const pristine = await writeOriginalLog(join(dir, `pristine-${run}.ndjson`), events)
            const damaged = Buffer.from(pristine)
            for (const [at, value] of flips) damaged[at % damaged.length] = value
            const filename = join(dir, `damaged-${run++}.ndjson`)
            await writeFile(filename, damaged)
            const outcome = await openAndReadAll(filename)
            const damagedLines = new Set<number>()
            for (const [at] of flips) {
              if (damaged[at % damaged.length] === pristine[at % damaged.length]) continue
              const line = lineOf(damaged, at % damaged.length)
              damagedLines.add(line).add(line + 1)
            }
            if (outcome.kind === 'failed') {
              expectCorruptError(outcome, filename, [...damagedLines])
              // The file is as it was, except that a damaged last line without
              // its newline may have been set aside first (with a warning, byte
              // for byte), before the read found damage further up.
              const after = await readFile(filename)
              const context = `${String(outcome.error)}\nbefore: ${JSON.stringify(damaged.toString('latin1'))}\nafter:  ${JSON.stringify(after.toString('latin1'))}`
              if (!after.equals(damaged)) {
                const torn = (await tornFiles(dir)).filter((name) => name.startsWith(`damaged-${run - 1}.`))
                expect(torn, context).toHaveLength(1)
                expect(
                  outcome.warnings.map((warning) => (warning as { code?: string }).code),
                  context,
                ).toEqual([tornTailWarning])
                expect(Buffer.concat([after, await readFile(join(dir, torn[0]!))]).equals(damaged), context).toBe(true)
              }
              return
            }
            const tornTail = outcome.warnings.some((warning) => (warning as { code?: string }).code === tornTailWarning)
            // A torn tail is everything after the last newline: usually the last line, but more when
            // the damage took a newline before it too. The log keeps every non-blank line up to there.
            const completeLines = damaged
              .subarray(0, damaged.lastIndexOf(0x0a) + 1)
              .toString('latin1')
              .split('\n')
              .filter((line) => !/^[ \t\r]*$/.test(line))
            expect(outcome.events.length).toBe(tornTail ? completeLines.length : events.length)
            outcome.events.forEach((event, i) => {
              expect(event.index).toBe(i)
              if (!damagedLines.has(i + 1)) expect(event).toEqual({ ...events[i], index: i })
            })
          },
        ),
        { numRuns: rounds(100, 1000) },
      )
    },
    rounds(60_000, 900_000),
  )
})

describe('a log file with foreign lines', () => {
  const garbage = ['garbage', 'null', '42', '"text"', '[1,2]', '{"type":"no index"}', '{"index":"0"}', '{"index":-1}', '{"index":1.5}', '{', '\u0000\u0001']

  it.each(garbage)('names the file and line of %j, and changes nothing', async (line) => {
    const dir = await tempDir('garbage')
    const pristine = await writeOriginalLog(join(dir, 'pristine.ndjson'))
    const lines = pristine.toString('utf8').split('\n').slice(0, -1)
    for (let at = 0; at <= lines.length; at++) {
      const filename = join(dir, `garbage-${at}.ndjson`)
      const damaged = Buffer.from(`${[...lines.slice(0, at), line, ...lines.slice(at)].join('\n')}\n`)
      await writeFile(filename, damaged)
      const outcome = await openAndReadAll(filename)
      expectCorruptError(outcome, filename, [at + 1])
      expect(outcome.events.map(({ index: _, ...event }) => event)).toEqual(originals.slice(0, outcome.events.length))
      expect((await readFile(filename)).equals(damaged)).toBe(true)
      expect(await tornFiles(dir)).toEqual([])
    }
  })

  it('names the line of a huge garbage line in the middle', async () => {
    const dir = await tempDir('huge-garbage')
    const filename = join(dir, 'log.ndjson')
    const lines = (await writeOriginalLog(filename)).toString('utf8').split('\n').slice(0, -1)
    const damaged = Buffer.from(`${[...lines.slice(0, 2), 'z'.repeat(5 * 1024 * 1024), ...lines.slice(2)].join('\n')}\n`)
    await writeFile(filename, damaged)
    expectCorruptError(await openAndReadAll(filename), filename, [3])
    expect((await readFile(filename)).equals(damaged)).toBe(true)
  })

  it('names the line holding invalid UTF-8, and changes nothing', async () => {
    const dir = await tempDir('utf8')
    const pristine = await writeOriginalLog(join(dir, 'pristine.ndjson'))
    const invalid = [Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x98])]
    for (const [which, bytes] of invalid.entries()) {
      for (let line = 1; line <= originals.length; line++) {
        // Inside the "text" string of that line, where JSON.parse alone would not notice.
        let lineStart = 0
        for (let skip = 1; skip < line; skip++) lineStart = pristine.indexOf(0x0a, lineStart) + 1
        const at = pristine.indexOf('héllo', lineStart) + 1
        const damaged = Buffer.concat([pristine.subarray(0, at), bytes, pristine.subarray(at)])
        const filename = join(dir, `utf8-${which}-${line}.ndjson`)
        await writeFile(filename, damaged)
        expectCorruptError(await openAndReadAll(filename), filename, [line])
        expect((await readFile(filename)).equals(damaged)).toBe(true)
      }
    }
  })
})

describe('a log file with odd but harmless formatting', () => {
  it('opens a 0-byte file as an empty log', async () => {
    const dir = await tempDir('empty')
    const filename = join(dir, 'log.ndjson')
    await writeFile(filename, '')
    const outcome = await openAndReadAll(filename)
    expect(outcome).toMatchObject({ kind: 'opened', events: [], warnings: [] })
    await expectAppendsContinue(filename, [])
  })

  const blankFiles: [string, string][] = [
    ['one newline', '\n'],
    ['10,000 newlines', '\n'.repeat(10_000)],
    ['CRLFs', '\r\n\r\n'],
    ['spaces and tabs', '  \n\t\n'],
    ['newlines and trailing spaces', '\n\n   '],
  ]
  it.each(blankFiles)('opens a file of only blank lines (%s) as an empty log', async (_name, text) => {
    const dir = await tempDir('blank')
    const filename = join(dir, 'log.ndjson')
    await writeFile(filename, text)
    const outcome = await openAndReadAll(filename)
    expect(outcome).toMatchObject({ kind: 'opened', events: [], warnings: [] })
    await expectAppendsContinue(filename, [])
  })

  it('keeps every event around blank lines anywhere in the file', async () => {
    const dir = await tempDir('blank-lines')
    const pristine = await writeOriginalLog(join(dir, 'pristine.ndjson'))
    const lines = pristine.toString('utf8').split('\n').slice(0, -1)
    for (let at = 0; at <= lines.length; at++) {
      for (const blank of ['', '   ', '\t', '\r']) {
        const filename = join(dir, `blank-${at}-${blank.charCodeAt(0) || 0}.ndjson`)
        await writeFile(filename, `${[...lines.slice(0, at), blank, ...lines.slice(at)].join('\n')}\n`)
        const outcome = await openAndReadAll(filename)
        expect(outcome.kind, `${JSON.stringify(blank)} at line ${at + 1}: ${String((outcome as { error?: unknown }).error)}`).toBe('opened')
        expect(outcome.events.map(({ index: _, ...event }) => event)).toEqual(originals)
        expect(outcome.warnings).toEqual([])
        await expectAppendsContinue(filename, originals)
      }
    }
  })

  it('reads a log edited on Windows (CRLF line endings) and appends after it', async () => {
    const dir = await tempDir('crlf')
    const filename = join(dir, 'log.ndjson')
    // Enough events that events({ after }) searches the file instead of scanning it.
    const many = Array.from({ length: 3000 }, (_, n) => ({ type: 'note', n, text: `line ${n} ☃` }))
    const pristine = await writeOriginalLog(filename, many)
    const crlf = Buffer.from(pristine.toString('utf8').replaceAll('\n', '\r\n'))
    await writeFile(filename, crlf)
    const outcome = await openAndReadAll(filename)
    expect(outcome.kind).toBe('opened')
    expect(outcome.events.map(({ index: _, ...event }) => event)).toEqual(many)
    expect(outcome.warnings).toEqual([])
    expect((await readFile(filename)).equals(crlf)).toBe(true)

    const log = await initLog<Note>({ filename, metadata: false })
    for (const after of [0, 1, 999, 1500, 2998]) {
      const first = await log.events({ after }).next()
      expect(first.value).toEqual({ ...many[after + 1], index: after + 1 })
    }
    await log.close()
    await expectAppendsContinue(filename, many)
  })

  it('reads a huge event in the middle and at the end, and finds events after it', async () => {
    const dir = await tempDir('huge')
    const filename = join(dir, 'log.ndjson')
    const huge = { type: 'note', n: 99, text: 'h'.repeat(20 * 1024 * 1024) }
    const events = [...originals.slice(0, 2), huge, ...originals.slice(2), huge]
    await writeOriginalLog(filename, events)
    const outcome = await openAndReadAll(filename)
    expect(outcome.kind).toBe('opened')
    expect(outcome.events).toHaveLength(events.length)
    outcome.events.forEach((event, i) => expect(event).toEqual({ ...events[i], index: i }))
    const log = await initLog<Note>({ filename, metadata: false })
    expect((await log.events({ after: 2 }).next()).value).toEqual({ ...originals[2], index: 3 })
    await log.close()
  })
})
