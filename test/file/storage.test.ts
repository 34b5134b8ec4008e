import { randomUUID } from 'node:crypto'
import { existsSync, readlinkSync } from 'node:fs'
import { appendFile, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CorruptLogError, fileStorage, initLog, LogLockedError, type Log } from '../../src/index.js'
import { cleanUpChildren, killChildren, startChild } from '../helpers/child.js'
import { describeLogStorage } from '../../src/testing/index.js'
import { timeOnly, withoutMeta } from '../helpers/meta.js'

/** What lock records say of this process's pid namespace (Linux only, as in the library). */
const pidNamespace = (() => {
  try {
    return readlinkSync('/proc/self/ns/pid')
  } catch {
    return undefined
  }
})()

let base: string
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tes-file-'))
})
afterAll(async () => {
  await cleanUpChildren()
  await rm(base, { recursive: true, force: true })
})
afterEach(killChildren)

/** A path for a log file that does not exist yet, in a folder of its own. */
function freshLogPath(): string {
  return join(base, randomUUID(), 'log.ndjson')
}

describeLogStorage(
  'fileStorage',
  {
    create: () => fileStorage(freshLogPath()),
    reopen: (closed) => fileStorage(closed.name),
    follow: (writer) => fileStorage(writer.name),
  },
  { describe, it },
)

describeLogStorage(
  'fileStorage with fsync',
  {
    create: () => fileStorage(freshLogPath(), { fsync: true }),
    reopen: (closed) => fileStorage(closed.name, { fsync: true }),
  },
  { describe, it },
)

type Counted = { type: string; n: number }

/** The lines of a log file, each without the `_meta` the log adds (test/core/metadata.test.ts tests that). */
async function readLines(filename: string): Promise<string[]> {
  return (await readFile(filename, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map(withoutMeta)
}

async function collect<E>(log: Log<E>, options: { after?: number } = {}): Promise<E[]> {
  const events: E[] = []
  const until = log.length - 1
  if (until <= (options.after ?? -1)) return events
  for await (const event of log.events(options)) {
    events.push(event)
    if ((event as { index: number }).index === until) break
  }
  return events
}

/** Writes a log file by hand: the lines given, each followed by a newline. */
async function writeLog(filename: string, lines: string[]): Promise<void> {
  await rm(dirname(filename), { recursive: true, force: true })
  await mkdtempLike(dirname(filename))
  await writeFile(filename, lines.map((line) => `${line}\n`).join(''))
}

async function mkdtempLike(dir: string): Promise<void> {
  const { mkdir } = await import('node:fs/promises')
  await mkdir(dir, { recursive: true })
}

function countedLines(count: number): string[] {
  return Array.from({ length: count }, (_, n) => JSON.stringify({ type: 'counted', n, index: n }))
}

/** Collects `process.emitWarning` calls with the torn-tail code while `run` runs (and one tick after). */
async function tornTailWarnings(run: () => Promise<void>): Promise<Error[]> {
  const warnings: Error[] = []
  const listener = (warning: Error) => {
    if ((warning as { code?: string }).code === 'TINY_EVENT_SOURCING_TORN_TAIL') warnings.push(warning)
  }
  process.on('warning', listener)
  try {
    await run()
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('warning', listener)
  }
  return warnings
}

async function tornFiles(filename: string): Promise<string[]> {
  const names = await readdir(dirname(filename))
  return names.filter((name) => name.startsWith(`${basename(filename)}.torn-`)).map((name) => join(dirname(filename), name))
}

describe('the file format', () => {
  it('writes each event as JSON.stringify({ ...event, _meta, index }) on its own line, creating missing folders', async () => {
    const filename = join(base, randomUUID(), 'deeper', 'still', 'log.ndjson')
    const log = await initLog({ filename })
    const events = [{ type: 'bookmark', url: 'https://example.com/é' }, { type: 'info', nested: { a: [1, { b: null }] }, '1': 'integer-like key' }, {}]
    const metas: unknown[] = []
    for (const event of events) metas.push((await log.append(event))._meta)
    await log.close()
    expect(await readFile(filename, 'utf8')).toBe(events.map((event, index) => `${JSON.stringify({ ...event, _meta: metas[index], index })}\n`).join(''))
  })

  it('loads a log written by the original 0.2.x unchanged, and appends after it', async () => {
    const filename = freshLogPath()
    // What the original wrote: JSON.stringify({ ...event, index }) per line, field order as the events had it.
    const original = [
      { type: 'bookmark', url: 'https://example.com' },
      { type: 'info', url: 'https://example.com', title: 'Example', faviconUrl: 'https://example.com/favicon.ico' },
      { payload: { url: 'https://example.org' }, type: 'bookmark' },
    ]
      .map((event, index) => `${JSON.stringify({ ...event, index })}\n`)
      .join('')
    await mkdtempLike(dirname(filename))
    await writeFile(filename, original)
    const log = await initLog<{ type: string }>({ filename })
    expect(log.length).toBe(3)
    expect(await collect(log)).toEqual([
      { type: 'bookmark', url: 'https://example.com', index: 0 },
      { type: 'info', url: 'https://example.com', title: 'Example', faviconUrl: 'https://example.com/favicon.ico', index: 1 },
      { payload: { url: 'https://example.org' }, type: 'bookmark', index: 2 },
    ])
    await log.append({ type: 'bookmark' })
    await log.close()
    const after = await readFile(filename, 'utf8')
    expect(after.startsWith(original)).toBe(true)
    expect(after.slice(original.length)).toMatch(/^\{"type":"bookmark","_meta":\{"at":"[^"]+"\},"index":3\}\n$/)
  })

  it('opens an existing file without reading all of it; events({ after }) reads only what it delivers; a replay streams', async () => {
    const filename = freshLogPath()
    const writer = await initLog<Counted & { padding: string }>({ filename })
    const padding = 'p'.repeat(200)
    for (let from = 0; from < 300_000; from += 20_000) {
      await Promise.all(Array.from({ length: 20_000 }, (_, i) => writer.append({ type: 'counted', n: from + i, padding })))
    }
    await writer.close()
    const size = (await stat(filename)).size
    expect(size).toBeGreaterThan(64 * 1024 * 1024)

    // /proc/self/io counts every byte this process reads through read(2), whatever reads it.
    const bytesRead = async () => Number(/rchar: (\d+)/.exec(await readFile('/proc/self/io', 'utf8'))![1])
    const beforeOpen = await bytesRead()
    const log = await initLog<Counted>({ filename })
    const openRead = (await bytesRead()) - beforeOpen
    expect(log.length).toBe(300_000)

    const beforeTail = await bytesRead()
    const tail = await collect(log, { after: 299_989 })
    const tailRead = (await bytesRead()) - beforeTail
    expect(tail.map((event) => event.n)).toEqual(Array.from({ length: 10 }, (_, i) => 299_990 + i))

    const beforeMiddle = await bytesRead()
    const middle: number[] = []
    for await (const event of log.events({ after: 123_455 })) {
      middle.push(event.n)
      if (middle.length === 3) break
    }
    const middleRead = (await bytesRead()) - beforeMiddle
    expect(middle).toEqual([123_456, 123_457, 123_458])

    // A full replay streams: the heap stays far below the file's size.
    const heapBefore = process.memoryUsage().heapUsed
    let heapPeak = heapBefore
    let replayed = 0
    for await (const event of log.events()) {
      replayed++
      if (replayed % 10_000 === 0) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)
      if (event.index === 299_999) break
    }
    expect(replayed).toBe(300_000)
    await log.close()

    console.log(`replay heap growth at most ${heapPeak - heapBefore} bytes`)
    expect(heapPeak - heapBefore).toBeLessThan(size / 2)
    console.log(`file ${size} bytes; read ${openRead} to open, ${tailRead} for the last 10 events, ${middleRead} for 3 in the middle`)
    // Generous bounds against a file of over 64 MB (a binary search of a few KB a
    // step, then one read chunk of 1 MB): what matters is that they do not grow with the file.
    expect(openRead).toBeLessThan(256 * 1024)
    for (const read of [tailRead, middleRead]) expect(read).toBeLessThan(2 * 1024 * 1024)
  }, 120_000)
})

it('finds where events({ after }) starts among lines much longer than its read windows', async () => {
  const filename = freshLogPath()
  const log = await initLog<{ n: number; padding: string }>({ filename })
  // Sizes from 10 bytes to 300 KB, in an irregular order.
  const sizes = Array.from({ length: 240 }, (_, n) => [10, 300_000, 5_000, 70_000, 200, 150_000][(n * 7) % 6]! + n)
  await Promise.all(sizes.map((size, n) => log.append({ n, padding: 'x'.repeat(size) })))
  await log.close()
  for (let after = -1; after < 239; after++) {
    // A fresh log each time, so no remembered offset helps.
    const reader = await initLog<{ n: number; padding: string }>({ filename, readOnly: true })
    const { value } = await reader.events({ after }).next()
    expect(value).toMatchObject({ n: after + 1, index: after + 1 })
    expect(value!.padding).toHaveLength(sizes[after + 1]!)
    await reader.close()
  }
}, 60_000)

describe('a torn last line', () => {
  it('is set aside byte for byte with one warning, and the log continues with the right index', async () => {
    const filename = freshLogPath()
    const fragment = '{"type":"counted","n":3,"pad":"é'.slice(0, -1) + '\u00e9'.slice(0, 1) // ends inside a string
    await writeLog(filename, countedLines(3))
    await appendFile(filename, fragment)
    const fragmentBytes = Buffer.from(fragment)
    let log: Log<Counted> | undefined
    const warnings = await tornTailWarnings(async () => {
      log = await initLog<Counted>({ filename })
    })
    expect(warnings).toHaveLength(1)
    expect(warnings[0]!.message).toContain(filename)
    const [aside, ...more] = await tornFiles(filename)
    expect(more).toEqual([])
    expect(warnings[0]!.message).toContain(aside)
    expect(await readFile(aside!)).toEqual(fragmentBytes)
    expect(await readFile(filename, 'utf8')).toBe(
      countedLines(3)
        .map((line) => `${line}\n`)
        .join(''),
    )
    expect(log!.length).toBe(3)
    expect(await log!.append({ type: 'counted', n: 3 })).toEqual({ type: 'counted', n: 3, _meta: timeOnly, index: 3 })
    await log!.close()
    expect(await readLines(filename)).toEqual(countedLines(4))
  })

  it('cuts off a torn line with a multi-byte character split in half (invalid UTF-8)', async () => {
    const filename = freshLogPath()
    await writeLog(filename, countedLines(2))
    const torn = Buffer.from('{"type":"counted","text":"😀')
    await appendFile(filename, torn.subarray(0, torn.length - 2))
    let log: Log<Counted> | undefined
    const warnings = await tornTailWarnings(async () => {
      log = await initLog<Counted>({ filename })
    })
    expect(warnings).toHaveLength(1)
    expect(await readFile((await tornFiles(filename))[0]!)).toEqual(torn.subarray(0, torn.length - 2))
    expect((await log!.append({ type: 'counted', n: 2 })).index).toBe(2)
    await log!.close()
    expect(await readLines(filename)).toEqual(countedLines(3))
  })

  it('keeps a complete last line that only misses its newline', async () => {
    const filename = freshLogPath()
    await writeLog(filename, countedLines(2))
    await appendFile(filename, countedLines(3)[2]!)
    let log: Log<Counted> | undefined
    const warnings = await tornTailWarnings(async () => {
      log = await initLog<Counted>({ filename })
    })
    expect(warnings).toEqual([])
    expect(await tornFiles(filename)).toEqual([])
    expect(log!.length).toBe(3)
    expect((await log!.append({ type: 'counted', n: 3 })).index).toBe(3)
    expect(await collect(log!)).toEqual(countedLines(4).map((line, n) => (n < 3 ? JSON.parse(line) : { ...JSON.parse(line), _meta: timeOnly })))
    await log!.close()
    expect(await readLines(filename)).toEqual(countedLines(4))
  })

  it('is left by a writer killed with SIGKILL mid-burst, and every acknowledged append survives', async () => {
    let tornRounds = 0
    for (let round = 0; round < 5 && tornRounds === 0; round++) {
      const filename = freshLogPath()
      const child = await startChild(
        `
        import { initLog } from 'tiny-event-sourcing'
        const log = await initLog({ filename: process.argv[2] })
        const payload = 'x'.repeat(64 * 1024)
        console.log('ready')
        for (let burst = 0; ; burst++) {
          const appends = []
          for (let i = 0; i < 200; i++) appends.push(log.append({ burst, i, payload }))
          await Promise.all(appends)
          console.log('acknowledged ' + burst)
        }
        `,
        [filename],
      )
      await child.nextLine()
      let acknowledged = -1
      while (acknowledged < 3) acknowledged = Number((await child.nextLine()).split(' ')[1])
      // Kill it while it writes: as soon as the file grows past what was acknowledged.
      const acknowledgedSize = (await stat(filename)).size
      while ((await stat(filename)).size === acknowledgedSize) await new Promise((resolve) => setTimeout(resolve, 1))
      await child.kill()
      const before = await readFile(filename)
      const fragment = before.subarray(before.lastIndexOf(0x0a) + 1)

      let log: Log<{ burst: number; i: number }> | undefined
      const warnings = await tornTailWarnings(async () => {
        log = await initLog({ filename })
      })
      // (A kill just before a line's newline leaves a complete event, which is kept: that is another test.)
      const torn = fragment.length > 0 && !fragment.toString('utf8').endsWith('}')
      if (torn) {
        tornRounds++
        expect(warnings).toHaveLength(1)
        const [aside] = await tornFiles(filename)
        expect(await readFile(aside!)).toEqual(fragment)
        expect((await stat(filename)).size).toBe(before.length - fragment.length)
      } else {
        expect(warnings).toEqual([])
      }
      // Every event acknowledged to the child is there, in order, with contiguous indices.
      let expected = 0
      for await (const event of log!.events()) {
        expect(event.index).toBe(expected)
        expect(event.burst * 200 + event.i).toBe(expected)
        expected++
        if (expected === log!.length) break
      }
      expect(expected).toBeGreaterThanOrEqual((acknowledged + 1) * 200)
      expect((await log!.append({ burst: -1, i: -1 })).index).toBe(expected)
      await log!.close()
    }
    expect(tornRounds).toBeGreaterThan(0)
  }, 120_000)
})

describe('a corrupt line', () => {
  it('in the middle fails the replay naming the file and line, and leaves the file byte for byte unchanged', async () => {
    const filename = freshLogPath()
    const lines = countedLines(6)
    lines[3] = '{"type":"counted","n":3,"index":3' // cut short by a bad hand edit
    await writeLog(filename, lines)
    const before = await readFile(filename)
    const log = await initLog<Counted>({ filename })
    const error = await collect(log).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(CorruptLogError)
    expect(error).toMatchObject({ code: 'LOG_CORRUPT', filename, line: 4 })
    expect((error as Error).message).toContain(`${filename}:4`)
    expect((error as Error).message).toMatch(/not valid JSON/)
    await log.close()
    expect(await readFile(filename)).toEqual(before)
    expect(await tornFiles(filename)).toEqual([])
  })

  it('that is not valid UTF-8 fails the replay naming the line', async () => {
    const filename = freshLogPath()
    await writeLog(filename, countedLines(3))
    const bytes = await readFile(filename)
    const at = bytes.indexOf('"n":1')
    bytes[at + 1] = 0xff
    await writeFile(filename, bytes)
    const log = await initLog<Counted>({ filename })
    await expect(collect(log)).rejects.toMatchObject({ name: 'CorruptLogError', line: 2, message: expect.stringMatching(/UTF-8/) })
    await log.close()
    expect(await readFile(filename)).toEqual(bytes)
  })

  it('as the last complete line refuses to open, naming the line, and changes nothing', async () => {
    const filename = freshLogPath()
    await writeLog(filename, [...countedLines(3), 'not json at all'])
    const before = await readFile(filename)
    await expect(initLog({ filename })).rejects.toMatchObject({ name: 'CorruptLogError', filename, line: 4 })
    expect(await readFile(filename)).toEqual(before)
    expect(existsSync(`${filename}.lock`)).toBe(false)
  })
})

describe('a hand-edited log', () => {
  it('with a line deleted in the middle fails the replay at the first line at fault, saying what to do', async () => {
    const filename = freshLogPath()
    const lines = countedLines(8)
    lines.splice(4, 1)
    await writeLog(filename, lines)
    const log = await initLog<Counted>({ filename })
    const error = (await collect(log).catch((caught: unknown) => caught)) as CorruptLogError
    expect(error).toBeInstanceOf(CorruptLogError)
    expect(error.line).toBe(5)
    expect(error.message).toMatch(/line 5 has index 5 where 4 was expected: lines were removed/)
    expect(error.message).toContain(`Renumber it with \`npx tiny-event-sourcing repair ${filename}\` (it keeps a backup)`)
    // The next index is past every index in the file: none is handed out twice.
    expect((await log.append({ type: 'counted', n: 8 })).index).toBe(8)
    await log.close()
    const indices = (await readLines(filename)).map((line) => JSON.parse(line).index as number)
    expect(new Set(indices).size).toBe(indices.length)
  })

  it('with a line duplicated in the middle fails the replay at the duplicate', async () => {
    const filename = freshLogPath()
    const lines = countedLines(6)
    lines.splice(3, 0, lines[2]!)
    await writeLog(filename, lines)
    const log = await initLog<Counted>({ filename })
    await expect(collect(log)).rejects.toMatchObject({
      line: 4,
      message: expect.stringMatching(/line 4 has index 2, but the lines before it already reached 2: lines were duplicated/),
    })
    await log.close()
  })

  it('with a line inserted without an index fails the replay at that line', async () => {
    const filename = freshLogPath()
    const lines = countedLines(6)
    lines.splice(2, 0, '{"type":"typed by hand"}')
    await writeLog(filename, lines)
    const log = await initLog<Counted>({ filename })
    await expect(collect(log)).rejects.toMatchObject({
      line: 3,
      message: expect.stringMatching(/line 3 has no numeric "index" \(expected 2\)/),
    })
    await log.close()
  })

  it('whose last line is out of order refuses to open rather than hand out an index twice, and changes nothing', async () => {
    const filename = freshLogPath()
    const lines = countedLines(6)
    lines.push(lines[2]!) // a line pasted at the end: appending would reuse index 3
    await writeLog(filename, lines)
    const before = await readFile(filename)
    const error = (await initLog({ filename }).catch((caught: unknown) => caught)) as CorruptLogError
    expect(error).toBeInstanceOf(CorruptLogError)
    expect(error.line).toBe(7)
    expect(error.message).toMatch(/line 7 has index 2, but the line before it has index 5/)
    expect(error.message).toContain(
      `Renumber it with \`npx tiny-event-sourcing repair ${filename}\` (it keeps a backup), or fix the file by hand; nothing was changed`,
    )
    expect(await readFile(filename)).toEqual(before)
    expect(existsSync(`${filename}.lock`)).toBe(false)
  })

  it('in a folder whose name has spaces, quotes and $ gives the repair command with the path quoted for a shell', async () => {
    const folder = join(base, randomUUID(), `it's my "data" $HOME`)
    const filename = join(folder, 'log.ndjson')
    const lines = countedLines(4)
    lines.splice(1, 1)
    await writeLog(filename, lines)
    const log = await initLog<Counted>({ filename })
    const error = (await collect(log).catch((caught: unknown) => caught)) as CorruptLogError
    await log.close()
    // Single quotes keep everything literal; a single quote itself is closed, escaped and reopened.
    expect(error.message).toContain(`\`npx tiny-event-sourcing repair '${dirname(folder)}/it'\\''s my "data" $HOME/log.ndjson'\``)
  })

  it('with a single line whose index is not 0 refuses to open', async () => {
    const filename = freshLogPath()
    await writeLog(filename, ['{"type":"counted","index":4}'])
    await expect(initLog({ filename })).rejects.toMatchObject({ line: 1, message: expect.stringMatching(/must have index 0/) })
  })

  it('with a gap where events({ after }) starts says which line is at fault', async () => {
    const filename = freshLogPath()
    const lines = countedLines(20_000) // large enough for the binary search
    lines.splice(12_000, 1)
    await writeLog(filename, lines)
    const log = await initLog<Counted>({ filename })
    const iterator = log.events({ after: 11_999 })
    const error = (await iterator.next().catch((caught: unknown) => caught)) as CorruptLogError
    expect(error).toMatchObject({
      name: 'CorruptLogError',
      line: 12_001,
      message: expect.stringMatching(/line 12001 has index 12001, but no line before it has index 12000/),
    })
    expect(error.message).toContain(`\`npx tiny-event-sourcing repair ${filename}\``)
    // Around the gap, reads that start after it are sound.
    const later = await log.events({ after: 15_000 }).next()
    expect(later.value).toMatchObject({ n: 15_001, index: 15_001 })
    await log.close()
  })

  it('changed by another program while a writer has it open makes the next append fail, writing nothing', async () => {
    const filename = freshLogPath()
    const log = await initLog<Counted>({ filename })
    await log.append({ type: 'counted', n: 0 })
    await appendFile(filename, '{"type":"counted","n":1,"index":1}\n') // say, `echo … >> log.ndjson`
    const before = await readFile(filename)
    await expect(log.append({ type: 'counted', n: 1 })).rejects.toMatchObject({
      code: 'LOG_CHANGED',
      message: expect.stringMatching(/was changed by another program while this log had it open.*nothing was appended/),
    })
    expect(await readFile(filename)).toEqual(before)
    await log.close()
    // Reopened, the log continues after the line that was added.
    const again = await initLog<Counted>({ filename })
    expect((await again.append({ type: 'counted', n: 2 })).index).toBe(2)
    await again.close()
  })

  it.each(['null', '[1,2]', '42', '"text"'])('with a line of JSON that is not an object (%s) fails the replay at that line', async (line) => {
    const filename = freshLogPath()
    const lines = countedLines(4)
    lines.splice(2, 0, line)
    await writeLog(filename, lines)
    const log = await initLog<Counted>({ filename })
    await expect(collect(log)).rejects.toMatchObject({
      name: 'CorruptLogError',
      line: 3,
      message: expect.stringMatching(/line 3 is not a JSON object/),
    })
    await log.close()
  })

  it('with blank lines (an editor) still replays', async () => {
    const filename = freshLogPath()
    const lines = countedLines(3)
    await writeLog(filename, [lines[0]!, '', lines[1]!, '   ', lines[2]!, ''])
    const log = await initLog<Counted>({ filename })
    expect(await collect(log)).toEqual(countedLines(3).map((line) => JSON.parse(line)))
    expect((await log.append({ type: 'counted', n: 3 })).index).toBe(3)
    await log.close()
  })
})

const holdLogScript = `
  import { initLog } from 'tiny-event-sourcing'
  const log = await initLog({ filename: process.argv[2] })
  await log.append({ type: 'held' })
  console.log('holding ' + process.pid)
  if (process.argv[3] === 'exit') process.exit(0) // a normal exit, without close()
  setInterval(() => {}, 1000)
`

describe('the writer lock', () => {
  it('refuses a second initLog in the same process, saying so, until the first is closed', async () => {
    const filename = freshLogPath()
    const first = await initLog({ filename })
    const error = (await initLog({ filename }).catch((caught: unknown) => caught)) as LogLockedError
    expect(error).toBeInstanceOf(LogLockedError)
    expect(error.code).toBe('LOG_LOCKED')
    expect(error.lockFile).toBe(`${filename}.lock`)
    expect(error.message).toContain(`this process (pid ${process.pid})`)
    await first.append({ type: 'still works' })
    await first.close()
    expect(existsSync(`${filename}.lock`)).toBe(false)
    const second = await initLog({ filename })
    expect(second.length).toBe(1)
    await second.close()
  })

  it('refuses a writer while another process holds the log, naming that process', async () => {
    const filename = freshLogPath()
    const child = await startChild(holdLogScript, [filename])
    const pid = Number((await child.nextLine()).split(' ')[1])
    const error = (await initLog({ filename }).catch((caught: unknown) => caught)) as LogLockedError
    expect(error).toBeInstanceOf(LogLockedError)
    expect(error.message).toContain(`process ${pid} on ${hostname()}`)
    expect(error.message).toMatch(/readOnly: true/)
    // A follower needs no lock.
    const follower = await initLog({ filename, readOnly: true })
    expect(follower.length).toBe(1)
    await follower.close()
    await child.kill()
  })

  it('left by a process killed with SIGKILL does not block the next writer', async () => {
    const filename = freshLogPath()
    const child = await startChild(holdLogScript, [filename])
    await child.nextLine()
    await child.kill()
    expect(existsSync(`${filename}.lock`)).toBe(true)
    const log = await initLog({ filename })
    expect(log.length).toBe(1)
    await log.append({ type: 'after the crash' })
    await log.close()
    expect(existsSync(`${filename}.lock`)).toBe(false)
  })

  it('left by a killed process is taken over by exactly one of several processes starting at once', async () => {
    const dead = await startChild('')
    await dead.exited
    const stale = { pid: dead.process.pid, hostname: hostname(), pidNamespace, since: new Date().toISOString() }
    for (let round = 0; round < 3; round++) {
      const filename = freshLogPath()
      await writeLog(filename, countedLines(1))
      await writeFile(`${filename}.lock`, `${JSON.stringify(stale)}\n`)
      const go = join(dirname(filename), 'go')
      const racers = await Promise.all(
        Array.from({ length: 4 }, () =>
          startChild(
            `
            import { existsSync } from 'node:fs'
            import { initLog } from 'tiny-event-sourcing'
            console.log('ready')
            while (!existsSync(process.argv[3])) await new Promise((resolve) => setTimeout(resolve, 1))
            try {
              await initLog({ filename: process.argv[2] })
              console.log('won')
              setInterval(() => {}, 1000)
            } catch (error) {
              console.log(error.code)
            }
            `,
            [filename, go],
          ),
        ),
      )
      for (const racer of racers) expect(await racer.nextLine()).toBe('ready')
      await writeFile(go, '')
      const outcomes = await Promise.all(racers.map((racer) => racer.nextLine()))
      expect(outcomes.sort()).toEqual(['LOG_LOCKED', 'LOG_LOCKED', 'LOG_LOCKED', 'won'])
      await killChildren()
    }
  }, 60_000)

  it('is removed when a process exits normally without close()', async () => {
    const filename = freshLogPath()
    const child = await startChild(holdLogScript, [filename, 'exit'])
    await child.nextLine()
    expect(await child.exited).toEqual({ code: 0, signal: null })
    expect(existsSync(`${filename}.lock`)).toBe(false)
    const log = await initLog({ filename })
    await log.close()
  })

  it('that is not a lock this library wrote (garbage) is taken over', async () => {
    const filename = freshLogPath()
    await writeLog(filename, countedLines(1))
    await writeFile(`${filename}.lock`, 'garbage')
    const log = await initLog({ filename })
    expect(JSON.parse(await readFile(`${filename}.lock`, 'utf8'))).toMatchObject({ pid: process.pid, hostname: hostname(), pidNamespace })
    await log.close()
  })

  it('leaves no drafts of processes killed while taking it; drafts of live processes and every other file stay', async () => {
    const filename = freshLogPath()
    await writeLog(filename, countedLines(1))
    const lockFile = `${filename}.lock`
    // What a process killed between writing its draft and removing it leaves (the draft is written
    // aside, then hard-linked into place): real processes write one as acquireFileLock does, and are
    // killed with SIGKILL; one is killed before it wrote anything into it.
    const draftScript = `
      import { readlinkSync, writeFileSync } from 'node:fs'
      import { hostname } from 'node:os'
      const draft = process.argv[2] + '.' + process.pid + '.' + Math.random().toString(36).slice(2)
      const owner = { pid: process.pid, hostname: hostname(), pidNamespace: readlinkSync('/proc/self/ns/pid'), since: new Date().toISOString() }
      writeFileSync(draft, process.argv[3] === 'empty' ? '' : JSON.stringify(owner) + '\\n')
      console.log(draft)
      setInterval(() => {}, 1000)
    `
    const draftOf = async (child: Awaited<ReturnType<typeof startChild>>) => basename(await child.nextLine())
    const killed: string[] = []
    for (const how of ['full', 'full', 'empty']) {
      const child = await startChild(draftScript, [lockFile, how])
      killed.push(await draftOf(child))
      await child.kill()
    }
    const dead = Number(killed[0]!.split('.').at(-2))
    const live = await startChild(draftScript, [lockFile, 'full'])
    const liveDraft = await draftOf(live)
    const log = basename(filename)
    const deadOwner = `${JSON.stringify({ pid: dead, hostname: hostname(), pidNamespace, since: new Date().toISOString() })}\n`
    const kept: Record<string, string> = {
      [`${log}.lock.${dead}.abc.bak`]: deadOwner, // not a draft's name
      [`${log}.lock.0${dead}.abc`]: deadOwner,
      [`${log}.lock.notes`]: 'notes',
      [`other.ndjson.lock.${dead}.abc`]: deadOwner, // another log's
      [`${log}.lock.${dead}.other`]: `${JSON.stringify({ pid: live.process.pid, hostname: hostname(), pidNamespace, since: '' })}\n`, // names another pid
      [`${log}.lock.${dead}.host`]: `${JSON.stringify({ pid: dead, hostname: `not-${hostname()}`, pidNamespace, since: '' })}\n`, // another host's
      [`${log}.lock.${dead}.namespace`]: `${JSON.stringify({ pid: dead, hostname: hostname(), pidNamespace: 'pid:[1]', since: '' })}\n`, // another container's
      [`${log}.lock.${dead}.young`]: deadOwner, // changed within the minute: could be a lock attempt in another container
      [`${log}.lock.${dead}.text`]: 'not a lock owner',
    }
    for (const [name, text] of Object.entries(kept)) await writeFile(join(dirname(filename), name), text)
    // Drafts live for milliseconds: only those unchanged for a minute can be leftovers.
    const minuteAgo = new Date(Date.now() - 61_000)
    for (const name of [...killed, liveDraft, ...Object.keys(kept).filter((name) => !name.endsWith('.young'))]) {
      await utimes(join(dirname(filename), name), minuteAgo, minuteAgo)
    }
    const before = await readdir(dirname(filename))
    expect(before).toEqual(expect.arrayContaining([...killed, liveDraft]))

    const writer = await initLog({ filename })
    expect(writer.length).toBe(1)
    await writer.append({ type: 'after the kills' })
    const after = await readdir(dirname(filename))
    expect(after.sort()).toEqual([log, basename(lockFile), liveDraft, ...Object.keys(kept)].sort())
    for (const [name, text] of Object.entries(kept)) expect(await readFile(join(dirname(filename), name), 'utf8')).toBe(text)
    await writer.close()
    await live.kill()
  }, 60_000)

  it('is never taken from a live writer with the same pid and hostname in another pid namespace (containers of one pod)', async () => {
    const filename = freshLogPath()
    // Each child is pid 1 of a new pid namespace, on this hostname, as in two containers sharing a volume.
    // Needs pid namespaces: root with CAP_SYS_ADMIN (as in CI here), or unprivileged user namespaces.
    const container = ['unshare', ...(process.getuid?.() === 0 ? [] : ['--user', '--map-root-user']), '--pid', '--fork', '--mount-proc', '--kill-child']
    const holder = await startChild(
      `
      import { initLog } from 'tiny-event-sourcing'
      const log = await initLog({ filename: process.argv[2] })
      await log.append({ type: 'first' })
      console.log(process.pid)
      setInterval(() => {}, 1000)
      `,
      [filename],
      { wrapper: container },
    )
    expect(await holder.nextLine()).toBe('1')
    const contender = await startChild(
      `
      import { initLog } from 'tiny-event-sourcing'
      try {
        await initLog({ filename: process.argv[2] })
        console.log('took the lock')
      } catch (error) {
        console.log(JSON.stringify({ pid: process.pid, code: error.code, message: error.message }))
      }
      `,
      [filename],
      { wrapper: container },
    )
    const refusal = JSON.parse(await contender.nextLine()) as { pid: number; code: string; message: string }
    expect(refusal).toMatchObject({ pid: 1, code: 'LOG_LOCKED' })
    expect(refusal.message).toContain(`process 1 on ${hostname()} (in another pid namespace: another container?) has held it since`)
    expect(await readLines(filename)).toEqual(['{"type":"first","index":0}'])
    await holder.kill()
  }, 60_000)

  it('of an earlier version, recording no pid namespace, is not judged here, and the error says why', async () => {
    const filename = freshLogPath()
    await writeLog(filename, countedLines(1))
    const dead = await startChild('')
    await dead.exited
    await writeFile(`${filename}.lock`, `${JSON.stringify({ pid: dead.process.pid, hostname: hostname(), since: '2026-11-01T00:00:00.000Z' })}\n`)
    const error = await initLog({ filename }).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'LOG_LOCKED' })
    expect((error as Error).message).toContain(`(its lock records no pid namespace: an earlier version of tiny-event-sourcing, or no /proc, wrote it)`)
    expect((error as Error).message).toContain(`delete ${filename}.lock if you are sure that process is gone`)
  })

  it('naming this process’s pid but taken before it started is taken over, with such drafts', async () => {
    // A container restarted after a kill gives its process the same pid as the killed one, on the same host.
    const filename = freshLogPath()
    await writeLog(filename, countedLines(1))
    const lockFile = `${filename}.lock`
    const before = new Date(performance.timeOrigin - 61_000)
    const earlier = `${JSON.stringify({ pid: process.pid, hostname: hostname(), pidNamespace, since: before.toISOString() })}\n`
    const now = `${JSON.stringify({ pid: process.pid, hostname: hostname(), pidNamespace, since: new Date().toISOString() })}\n`
    await writeFile(lockFile, earlier)
    const earlierDraft = `${lockFile}.${process.pid}.earlier`
    const currentDraft = `${lockFile}.${process.pid}.current` // could be a worker thread's, or another copy of the library's
    await writeFile(earlierDraft, earlier)
    await writeFile(currentDraft, now)
    await utimes(earlierDraft, before, before)
    await utimes(currentDraft, before, before) // old enough, but its record dates from after this process started
    const log = await initLog({ filename })
    expect(log.length).toBe(1)
    expect(await readFile(lockFile, 'utf8')).not.toBe(earlier)
    expect(JSON.parse(await readFile(lockFile, 'utf8'))).toMatchObject({ pid: process.pid, hostname: hostname() })
    expect(existsSync(earlierDraft)).toBe(false)
    expect(await readFile(currentDraft, 'utf8')).toBe(now)
    // Still refused while this process really holds it.
    await expect(initLog({ filename })).rejects.toThrow(`this process (pid ${process.pid})`)
    await log.close()
    expect(existsSync(lockFile)).toBe(false)
  })
})

describe('a read-only follower', () => {
  it('in this process replays, follows the writer, refuses appends, takes no lock and changes nothing', async () => {
    const filename = freshLogPath()
    await writeLog(filename, countedLines(3))
    const follower = await initLog<Counted>({ filename, readOnly: true })
    expect(existsSync(`${filename}.lock`)).toBe(false)
    const writer = await initLog<Counted>({ filename })
    const seen: number[] = []
    const latencies: number[] = []
    let appendedAt = 0
    const following = (async () => {
      for await (const event of follower.events()) {
        seen.push(event.index)
        if (event.index >= 3) latencies.push(performance.now() - appendedAt)
        if (event.index === 12) break
      }
    })()
    for (let n = 3; n <= 12; n++) {
      appendedAt = performance.now()
      await writer.append({ type: 'counted', n })
      await expect.poll(() => seen.length, { timeout: 10_000, interval: 5 }).toBe(n + 1)
    }
    await following
    console.log(`follower latency in ms: ${latencies.map((ms) => ms.toFixed(1)).join(' ')}`)
    expect(seen).toEqual(Array.from({ length: 13 }, (_, n) => n))
    await expect(follower.append({ type: 'counted', n: -1 })).rejects.toThrow(/readOnly: true/)
    const before = await readFile(filename)
    await follower.close()
    expect(await readFile(filename)).toEqual(before)
    await writer.close()
  })

  it('in another process follows this process’s appends', async () => {
    const filename = freshLogPath()
    const writer = await initLog<Counted>({ filename })
    await writer.append({ type: 'counted', n: 0 })
    const child = await startChild(
      `
      import { initLog } from 'tiny-event-sourcing'
      const log = await initLog({ filename: process.argv[2], readOnly: true })
      console.log('following')
      // No close() and nothing else keeps this process alive: a waiting follower must.
      for await (const event of log.events()) {
        console.log(JSON.stringify(event))
        if (event.index === 100) break
      }
      await log.close()
      `,
      [filename],
    )
    expect(await child.nextLine()).toBe('following')
    expect(JSON.parse(await child.nextLine())).toEqual({ type: 'counted', n: 0, _meta: timeOnly, index: 0 })
    // Wait so the child is caught up and idle; it must not exit meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(child.process.exitCode).toBe(null)
    // One at a time, timing how long each takes to reach the other process (measured, not asserted).
    const latencies: number[] = []
    for (let n = 1; n <= 10; n++) {
      const appendedAt = performance.now()
      await writer.append({ type: 'counted', n })
      expect(JSON.parse(await child.nextLine())).toEqual({ type: 'counted', n, _meta: timeOnly, index: n })
      latencies.push(performance.now() - appendedAt)
    }
    console.log(`follower in another process, ms from append to delivery: ${latencies.map((ms) => ms.toFixed(1)).join(' ')}`)
    for (let n = 11; n <= 50; n++) await writer.append({ type: 'counted', n })
    await Promise.all(Array.from({ length: 50 }, (_, i) => writer.append({ type: 'counted', n: 51 + i })))
    for (let n = 11; n <= 100; n++) expect(JSON.parse(await child.nextLine())).toEqual({ type: 'counted', n, _meta: timeOnly, index: n })
    expect(await child.exited).toEqual({ code: 0, signal: null })
    await writer.close()
  })

  it('never touches a torn tail the writer is still writing, and delivers the line once it is complete', async () => {
    const filename = freshLogPath()
    await writeLog(filename, countedLines(2))
    const line = JSON.stringify({ type: 'counted', n: 2, index: 2 })
    await appendFile(filename, line.slice(0, 10))
    const before = await readFile(filename)
    let follower: Log<Counted> | undefined
    const warnings = await tornTailWarnings(async () => {
      follower = await initLog<Counted>({ filename, readOnly: true })
    })
    expect(warnings).toEqual([])
    expect(follower!.length).toBe(2)
    const iterator = follower!.events({ after: 1 })
    const next = iterator.next()
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(await readFile(filename)).toEqual(before)
    expect(await tornFiles(filename)).toEqual([])
    await appendFile(filename, line.slice(10)) // complete but still no newline: not yet an event
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(follower!.length).toBe(2)
    await appendFile(filename, '\n')
    expect((await next).value).toEqual({ type: 'counted', n: 2, index: 2 })
    await iterator.return?.()
    await follower!.close()
    expect(await readLines(filename)).toEqual(countedLines(3))
  })

  it('of a file that does not exist says to start the writer first', async () => {
    await expect(initLog({ filename: freshLogPath(), readOnly: true })).rejects.toMatchObject({
      code: 'LOG_NOT_FOUND',
      message: expect.stringMatching(/does not exist; start the process that writes it first/),
    })
  })

  it('given a folder says it is a folder, and names a file to give instead', async () => {
    const folder = dirname(freshLogPath())
    await mkdtempLike(folder)
    await expect(initLog({ filename: folder, readOnly: true })).rejects.toMatchObject({
      code: 'FILE_ACCESS',
      systemCode: 'EISDIR',
      message: `tiny-event-sourcing: cannot open ${folder}: it is a folder, not a file; give initLog() the path of a log file, e.g. ${join(folder, 'log.ndjson')}`,
    })
  })
})

describe('a filename that cannot be used', () => {
  /** A regular file where the log's folder should be. */
  async function fileInTheWay(): Promise<string> {
    const file = join(base, randomUUID(), 'notes.txt')
    await mkdtempLike(dirname(file))
    await writeFile(file, 'not a folder\n')
    return file
  }

  it.each([
    ['is the folder itself (EEXIST)', [], 'EEXIST'],
    ['is on the way to the folder (ENOTDIR)', ['2026', 'november'], 'ENOTDIR'],
  ])('refuses to open when a file %s, naming the log and that file, and changes nothing', async (_, between, code) => {
    const file = await fileInTheWay()
    const filename = join(file, ...between, 'log.ndjson')
    const error = (await initLog({ filename }).catch((caught: unknown) => caught)) as Error
    expect(error.message).toBe(
      `tiny-event-sourcing: cannot create the folder for ${filename}: ${file} is a file, not a folder; choose another filename, or move that file out of the way`,
    )
    expect(error).toMatchObject({ code: 'FILE_ACCESS', systemCode: code, cause: { code } })
    expect(await readFile(file, 'utf8')).toBe('not a folder\n')
    // A follower is told the same, rather than that the file does not exist.
    await expect(initLog({ filename, readOnly: true })).rejects.toMatchObject({
      code: 'FILE_ACCESS',
      systemCode: 'ENOTDIR',
      message: `tiny-event-sourcing: cannot follow ${filename}: ${file} is a file, not a folder; choose another filename, or move that file out of the way`,
    })
  })

  it('refuses to open a folder as the log file, names a file to give instead, and leaves no lock behind', async () => {
    const folder = dirname(freshLogPath())
    await mkdtempLike(folder)
    const error = (await initLog({ filename: folder }).catch((caught: unknown) => caught)) as Error
    expect(error.message).toBe(
      `tiny-event-sourcing: cannot open ${folder}: it is a folder, not a file; give initLog() the path of a log file, e.g. ${join(folder, 'log.ndjson')}`,
    )
    expect(error).toMatchObject({ code: 'FILE_ACCESS', systemCode: 'EISDIR', cause: { code: 'EISDIR' } })
    expect(existsSync(`${folder}.lock`)).toBe(false)
    expect(await readdir(folder)).toEqual([])
  })
})
