import { spawn } from 'node:child_process'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { initLog } from '../../src/index.js'
import { bin, finished, removeTempDirs, run, tempDir, writeLog, type RunResult } from './run.js'

const events = Array.from({ length: 6 }, (_, n) => ({ type: n % 2 ? 'info' : 'bookmark', url: `https://example.com/${n}` }))

async function soundLog(): Promise<{ filename: string; lines: string[] }> {
  const filename = join(await tempDir(), 'log.ndjson')
  const log = await initLog({ filename, metadata: false })
  for (const event of events) await log.append(event)
  await log.close()
  return { filename, lines: (await readFile(filename, 'utf8')).trimEnd().split('\n') }
}

/** Files next to the log whose names start with `<log>.<kind>-`. */
async function sideFiles(filename: string, kind: string): Promise<string[]> {
  const names = await readdir(dirname(filename))
  return names.filter((name) => name.startsWith(`${basename(filename)}.${kind}-`)).map((name) => join(dirname(filename), name))
}

/** Every event as the library reads it back. */
async function readBack(filename: string): Promise<unknown[]> {
  const log = await initLog({ filename, readOnly: true })
  const read: unknown[] = []
  if (log.length > 0) {
    for await (const event of log.events()) {
      read.push(event)
      if (event.index === log.length - 1) break
    }
  }
  await log.close()
  return read
}

afterAll(removeTempDirs)

describe('tiny-event-sourcing check', () => {
  it('says a sound log is sound, with exit code 0', async () => {
    const { filename } = await soundLog()
    const result = await run(['check', filename])
    const bytes = (await readFile(filename)).length
    expect(result).toMatchObject({ code: 0, stderr: '', stdout: `${filename}: sound, 6 events (indices 0–5), ${bytes} B\n` })
  })

  it('accepts an empty file, blank lines, CRLF line ends and a last event without newline, with notes', async () => {
    const dir = await tempDir()
    const empty = join(dir, 'empty.ndjson')
    await writeFile(empty, '')
    expect(await run(['check', empty])).toMatchObject({ code: 0, stdout: `${empty}: sound, 0 events, 0 B\n` })
    const edited = join(dir, 'edited.ndjson')
    await writeFile(edited, '{"type":"a","index":0}\r\n\r\n{"type":"b","index":1}\r\n\n{"type":"c","index":2}')
    const result = await run(['check', edited])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`${edited}: sound, 3 events (indices 0–2)`)
    expect(result.stdout).toContain('note: 2 blank lines, which the log skips')
    expect(result.stdout).toContain('note: the last event has no newline after it')
    // …and the library agrees.
    expect(await readBack(edited)).toEqual([
      { type: 'a', index: 0 },
      { type: 'b', index: 1 },
    ])
  })

  it('lists every problem with file and line, and exits with 1', async () => {
    const { filename, lines } = await soundLog()
    const damaged = [lines[0], lines[2], lines[3], 'not json at all', lines[3], lines[4], '[1,2]', lines[5]]
    await writeFile(filename, `${damaged.join('\n')}\n{"type":"bookm`)
    const before = await readFile(filename)
    const result = await run(['check', filename])
    expect(result.code).toBe(1)
    expect(result.stdout.split('\n').slice(0, 6)).toEqual([
      `${filename}:2: line 2 has index 2 where 1 was expected: lines were removed or indices edited`,
      `${filename}:4: line 4 is not valid JSON (Unexpected token 'o', "not json at all" is not valid JSON)`,
      `${filename}:5: line 5 has index 3, but the lines before it already reached 3: lines were duplicated or reordered`,
      `${filename}:7: line 7 is an array, not a JSON object`,
      `${filename}:9: line 9 is an incomplete last line (14 bytes, no newline): an append cut short, most likely by a crash`,
      `${filename}: 5 problems in 9 lines; 6 lines are events`,
    ])
    expect(await readFile(filename)).toEqual(before) // never changes the file
  })

  it('reads lines longer than its read buffer (several MB) and counts their bytes exactly', async () => {
    const filename = join(await tempDir(), 'log.ndjson')
    const long = JSON.stringify({ type: 'long', text: 'é'.repeat(1_500_000), index: 1 }) // 3 MB of UTF-8
    const torn = `{"type":"long","text":"${'x'.repeat(2_500_000)}`
    await writeFile(filename, `{"type":"a","index":0}\n${long}\n{"type":"b","index":2}\n${torn}`)
    const result = await run(['check', filename])
    expect(result.stdout.split('\n')[0]).toBe(
      `${filename}:4: line 4 is an incomplete last line (${torn.length} bytes, no newline): an append cut short, most likely by a crash`,
    )
    expect((await run(['repair', filename])).code).toBe(0)
    expect(await readFile(filename, 'utf8')).toBe(`{"type":"a","index":0}\n${long}\n{"type":"b","index":2}\n`)
  })

  it('names a line that is not UTF-8', async () => {
    const filename = join(await tempDir(), 'log.ndjson')
    await writeFile(filename, Buffer.concat([Buffer.from('{"type":"a","index":0}\n{"type":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","index":1}\n')]))
    const result = await run(['check', filename])
    expect(result.code).toBe(1)
    expect(result.stdout).toContain(`${filename}:2: line 2 is not valid UTF-8 text`)
  })
})

describe('tiny-event-sourcing repair', () => {
  it('leaves a sound log alone and makes no backup', async () => {
    const { filename } = await soundLog()
    const before = await readFile(filename)
    const result = await run(['repair', filename])
    expect(result).toMatchObject({
      code: 0,
      stdout: `${filename}: nothing to repair, 6 events numbered 0–5 and no damage found; the file was not changed\n`,
    })
    expect(await readFile(filename)).toEqual(before)
    expect(await sideFiles(filename, 'backup')).toEqual([])
  })

  it('sets a torn tail aside, keeping the original as a backup, and the log opens cleanly', async () => {
    const { filename, lines } = await soundLog()
    const original = `${lines.join('\n')}\n{"type":"bookmark","url":"https://exa`
    await writeFile(filename, original)
    const result = await run(['repair', filename])
    expect(result.code).toBe(0)
    const [backup] = await sideFiles(filename, 'backup')
    expect(result.stdout).toBe(
      `${filename}: repaired; the original is kept as ${backup}\n` +
        '  set aside the incomplete last line 7 (37 bytes); it stays in the backup\n' +
        'The log now holds 6 events, indices 0–5.\n',
    )
    expect(await readFile(backup!, 'utf8')).toBe(original)
    expect(await readFile(filename, 'utf8')).toBe(`${lines.join('\n')}\n`)
    expect((await run(['check', filename])).code).toBe(0)
    // A writer now opens it without setting anything aside.
    const warnings: unknown[] = []
    const onWarning = (warning: unknown) => warnings.push(warning)
    process.on('warning', onWarning)
    const log = await initLog({ filename, metadata: false })
    expect(log.length).toBe(6)
    await log.close()
    process.off('warning', onWarning)
    expect(warnings).toEqual([])
  })

  it('renumbers after hand edits: untouched lines byte for byte, renumbered ones as the log writes them', async () => {
    const { filename, lines } = await soundLog()
    // Line 1 deleted, line 4 pasted twice, a blank line left behind, no final newline.
    const edited = [lines[0], lines[2], lines[3], lines[4], '', lines[4], lines[5]].join('\n')
    await writeFile(filename, edited)
    expect((await run(['cat', filename])).code).toBe(1) // the library refuses it as it is
    const result = await run(['repair', filename])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('  renumbered 3 events to run 0–5 (numbering first broke on line 2, which has index 2 where 1 was expected')
    expect(result.stdout).toContain('  removed 1 blank line\n')
    expect(result.stdout).toContain('  added the missing newline after the last event\n')
    expect(result.stdout).toContain('The log now holds 6 events, indices 0–5.\n')
    const renumbered = (await readFile(filename, 'utf8')).split('\n')
    expect(renumbered[0]).toBe(lines[0])
    expect(renumbered.slice(1, 6)).toEqual(
      [events[2], events[3], events[4], events[4], events[5]].map((event, i) => JSON.stringify({ ...event, index: i + 1 })),
    )
    expect(renumbered[6]).toBe('')
    expect(await readBack(filename)).toEqual([events[0], events[2], events[3], events[4], events[4], events[5]].map((event, index) => ({ ...event, index })))
    const [backup] = await sideFiles(filename, 'backup')
    expect(await readFile(backup!, 'utf8')).toBe(edited)
  })

  it('renumbers events that carry _meta, keeping it as stored just before the new index', async () => {
    const filename = join(await tempDir(), 'log.ndjson')
    const log = await initLog({ filename })
    const cause = await log.append({ type: 'bookmark', url: 'https://a.example' })
    await log.append({ type: 'info', url: 'https://a.example', title: 'A' }, { causedBy: cause, correlationId: 'c-1' })
    await log.append({ type: 'tag', url: 'https://a.example', tag: 'x' })
    await log.close()
    const lines = (await readFile(filename, 'utf8')).trimEnd().split('\n')
    await writeFile(filename, `${[lines[1], lines[2]].join('\n')}\n`)
    expect((await run(['repair', filename])).code).toBe(0)
    const stored = lines.slice(1).map((line) => JSON.parse(line))
    expect((await readFile(filename, 'utf8')).trimEnd().split('\n')).toEqual(stored.map((event, index) => JSON.stringify({ ...event, index })))
    expect(await readBack(filename)).toEqual(stored.map((event, index) => ({ ...event, index })))
    expect((await readBack(filename))[0]).toMatchObject({ _meta: { causedBy: 0, correlationId: 'c-1' } })
  })

  it('refuses lines that are not events unless told to drop them, then moves them to a side file', async () => {
    const { filename, lines } = await soundLog()
    const garbage = Buffer.from([0x7b, 0xff, 0x7d]) // "{", an invalid byte, "}"
    const original = Buffer.concat([Buffer.from(`${lines[0]}\nnot json\n${lines[1]}\n`), garbage, Buffer.from(`\n${lines[2]}\n`)])
    await writeFile(filename, original)
    const refused = await run(['repair', filename])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(`${filename} has 2 lines that are not events; nothing was changed:`)
    expect(refused.stderr).toContain(`  ${filename}:2: line 2 is not valid JSON`)
    expect(refused.stderr).toContain(`  ${filename}:4: line 4 is not valid UTF-8 text`)
    expect(refused.stderr).toContain('--drop-invalid')
    expect(await readFile(filename)).toEqual(original)
    expect(await sideFiles(filename, 'backup')).toEqual([])

    const dry = await run(['repair', filename, '--drop-invalid', '--dry-run'])
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain('repair would\n')
    expect(dry.stdout).toContain('Nothing was changed (--dry-run).')
    expect(await readFile(filename)).toEqual(original)

    const dropped = await run(['repair', filename, '--drop-invalid'])
    expect(dropped.code).toBe(0)
    const [side] = await sideFiles(filename, 'dropped')
    expect(dropped.stdout).toContain(`  moved 2 lines that are not events (2, 4) to ${side}\n`)
    expect(await readFile(side!)).toEqual(Buffer.concat([Buffer.from('not json\n'), garbage, Buffer.from('\n')]))
    expect(await readBack(filename)).toEqual(events.slice(0, 3).map((event, index) => ({ ...event, index })))
  })

  it('removes a byte order mark a Windows editor put at the start of the file', async () => {
    const { filename, lines } = await soundLog()
    await writeFile(filename, `\uFEFF${lines.join('\n')}\n`)
    expect((await run(['cat', filename])).code).toBe(1) // the log cannot read it
    const checked = await run(['check', filename])
    expect(checked.code).toBe(1)
    expect(checked.stdout).toContain(`${filename}:1: line 1 starts with a byte order mark (BOM), which JSON does not allow`)
    const repaired = await run(['repair', filename])
    expect(repaired.stdout).toContain('  removed the byte order mark (BOM) at the start of the file\n')
    expect(await readFile(filename, 'utf8')).toBe(`${lines.join('\n')}\n`)
  })

  it('will not repair a log its writer holds open', async () => {
    const { filename, lines } = await soundLog()
    const writer = await initLog({ filename, metadata: false })
    await writeFile(filename, `${lines[1]}\n`, { flag: 'a' }) // a duplicate appended behind the writer's back
    const before = await readFile(filename)
    const result = await run(['repair', filename])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`cannot open ${filename} for writing: this process`.replace('this process', `process ${process.pid}`))
    expect(await readFile(filename)).toEqual(before)
    await writer.close()
  })

  it('after any hand edit of whole lines, leaves a log that checks sound and holds the same events in file order (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ type: fc.constantFrom('a', 'b'), n: fc.integer({ min: 0, max: 99 }) }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
        async (written, picks) => {
          const filename = join(await tempDir(), 'log.ndjson')
          const lines = await writeLog(filename, written)
          // The edit: lines picked (so deleted, duplicated and reordered) from the original.
          const edited = picks.map((pick) => lines[pick % lines.length]!)
          await writeFile(filename, `${edited.join('\n')}\n`)
          const repaired = await run(['repair', filename])
          expect(repaired.code).toBe(0)
          expect((await run(['check', filename])).code).toBe(0)
          const expected = edited.map((line, index) => ({ ...JSON.parse(line), index }))
          expect(await readBack(filename)).toEqual(expected)
        },
      ),
      { numRuns: 12 },
    )
  })
})

describe('the repair command that check and the library print', () => {
  /** Runs a printed command line in a real shell, with the built bin in place of `[npx ]tiny-event-sourcing`. */
  function runAsPrinted(command: string): Promise<RunResult> {
    expect(command).toMatch(/^(npx )?tiny-event-sourcing /)
    const line = command.replace(/^(npx )?tiny-event-sourcing /, `"${process.execPath}" "${bin}" `)
    return finished(spawn('/bin/sh', ['-c', line], { stdio: 'pipe' }))
  }

  it('runs as printed, for a log whose path has spaces, quotes and $ in it', async () => {
    const folder = join(await tempDir(), `it's my "logs" $HOME`)
    await mkdir(folder)
    const filename = join(folder, 'log.ndjson')
    await writeFile(filename, ['{"type":"a","index":0}', '{"type":"b","index":2}', '{"type":"c","index":3}', ''].join('\n'))

    const checked = await run(['check', filename])
    expect(checked.code).toBe(1)
    const fromCheck = /`(tiny-event-sourcing repair [^`]*)`/.exec(checked.stdout)?.[1]
    expect(fromCheck).toBeDefined()
    const dryRun = await runAsPrinted(`${fromCheck!} --dry-run`)
    expect(dryRun).toMatchObject({ code: 0, stderr: '' })
    expect(dryRun.stdout.split('\n').slice(0, 2)).toEqual([`${filename}: repair would`, expect.stringMatching(/^ {2}renumber/)])

    const log = await initLog({ filename, metadata: false })
    const replayed = await (async () => {
      for await (const event of log.events()) if (event.index === log.length - 1) break
    })().catch((caught: unknown) => caught as Error)
    await log.close()
    const fromLibrary = /`(npx tiny-event-sourcing repair [^`]*)`/.exec(replayed!.message)?.[1]
    expect(fromLibrary).toBeDefined()
    const repaired = await runAsPrinted(fromLibrary!)
    expect(repaired).toMatchObject({ code: 0, stderr: '' })
    expect(repaired.stdout).toContain(`${filename}: repaired; the original is kept as ${filename}.backup-`)
    expect(await readBack(filename)).toEqual([
      { type: 'a', index: 0 },
      { type: 'b', index: 1 },
      { type: 'c', index: 2 },
    ])
  })
})
