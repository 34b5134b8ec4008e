import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { initLog } from '../../src/index.js'
import { bin, finished, removeTempDirs, run, start, stopStarted, tempDir, writeLog } from './run.js'

const bookmarks = [
  { type: 'bookmark', url: 'https://example.com' },
  { type: 'info', url: 'https://example.com', title: 'Example Domain' },
  { type: 'bookmark', url: 'https://nodejs.org' },
  { type: 'info', url: 'https://nodejs.org', title: 'Node.js' },
  { type: 'tag', url: 'https://nodejs.org', tag: 'js' },
]

async function bookmarkLog(): Promise<{ dir: string; filename: string; lines: string[] }> {
  const dir = await tempDir()
  const filename = join(dir, 'log.ndjson')
  // Without _meta, whose times differ run to run: the output is compared with fixed text.
  const log = await initLog({ filename, metadata: false })
  for (const event of bookmarks) await log.append(event)
  await log.close()
  const lines = (await readFile(filename, 'utf8')).trimEnd().split('\n')
  return { dir, filename, lines }
}

afterAll(removeTempDirs)

describe('tiny-event-sourcing cat', () => {
  afterEach(stopStarted)

  it('prints every event as NDJSON, exactly the lines initLog wrote', async () => {
    const { filename, lines } = await bookmarkLog()
    const result = await run(['cat', filename])
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toBe(lines.map((line) => `${line}\n`).join(''))
  })

  it('filters by --type (repeatable) and by --from/--to, bounds included', async () => {
    const { filename } = await bookmarkLog()
    const byType = await run(['cat', filename, '--type', 'info', '-t', 'tag'])
    expect(
      byType.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line).index),
    ).toEqual([1, 3, 4])
    const range = await run(['cat', filename, '--from', '1', '--to', '2'])
    expect(
      range.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line).index),
    ).toEqual([1, 2])
    const both = await run(['cat', filename, '--from', '2', '--type', 'bookmark'])
    expect(both.stdout).toBe(`${JSON.stringify({ ...bookmarks[2], index: 2 })}\n`)
    const pastTheEnd = await run(['cat', filename, '--from', '10'])
    expect(pastTheEnd).toMatchObject({ code: 0, stdout: '' })
  })

  it('prints indented JSON with --pretty', async () => {
    const { filename } = await bookmarkLog()
    const result = await run(['cat', filename, '--to', '0', '--pretty'])
    expect(result.stdout).toBe(`${JSON.stringify({ ...bookmarks[0], index: 0 }, null, 2)}\n`)
  })

  it('reads a log while its writer holds it open, without taking the lock or changing the file', async () => {
    const { filename, lines } = await bookmarkLog()
    const writer = await initLog({ filename, metadata: false })
    const before = await readFile(filename, 'utf8')
    const result = await run(['cat', filename])
    expect(result.stdout.trimEnd().split('\n')).toEqual(lines)
    await writer.append({ type: 'after-cat' })
    await writer.close()
    expect((await readFile(filename, 'utf8')).startsWith(before)).toBe(true)
  })

  it('reads through an --upcast module', async () => {
    const { dir, filename } = await bookmarkLog()
    const upcast = join(dir, 'upcast.mjs')
    await writeFile(upcast, 'export default ({ type, url, index, ...rest }) => ({ type, payload: { url, ...rest } })\n')
    const result = await run(['cat', filename, '--to', '1', '--upcast', upcast])
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(
      result.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([
      { type: 'bookmark', payload: { url: 'https://example.com' }, index: 0 },
      { type: 'info', payload: { url: 'https://example.com', title: 'Example Domain' }, index: 1 },
    ])
  })

  it('says which module and why when --upcast is not usable', async () => {
    const { dir, filename } = await bookmarkLog()
    const notAFunction = join(dir, 'constant.mjs')
    await writeFile(notAFunction, 'export default 42\n')
    const result = await run(['cat', filename, '--upcast', notAFunction])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`--upcast ${notAFunction} must export a function`)
    const throwing = join(dir, 'throwing.mjs')
    await writeFile(throwing, "export function upcast(stored) { if (stored.type === 'info') throw new Error('unknown info shape'); return stored }\n")
    const failed = await run(['cat', filename, '--upcast', throwing])
    expect(failed.code).toBe(1)
    expect(failed.stdout).toBe(`${JSON.stringify({ ...bookmarks[0], index: 0 })}\n`)
    expect(failed.stderr).toMatch(/upcast of event 1 of .*log\.ndjson threw: unknown info shape/)
  })

  it('names the file and line of a corrupt log and exits with 1', async () => {
    const dir = await tempDir()
    const filename = join(dir, 'log.ndjson')
    await writeFile(filename, '{"type":"a","index":0}\n{"type":"b","index":0}\n{"type":"c","index":2}\n')
    const result = await run(['cat', filename])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(new RegExp(`^tiny-event-sourcing cat: ${filename}:\\d+: line \\d+ has index .*tiny-event-sourcing repair`))
  })

  it('prints a large log completely, byte for byte, through a pipe and into a file', async () => {
    const dir = await tempDir()
    const filename = join(dir, 'big.ndjson')
    await writeLog(
      filename,
      Array.from({ length: 100_000 }, (_, n) => ({ type: n % 3 ? 'bookmark' : 'info', url: `https://example.com/${n}` })),
    )
    const original = await readFile(filename, 'utf8')
    const piped = await run(['cat', filename])
    expect(piped).toMatchObject({ code: 0, stderr: '' })
    expect(piped.stdout === original).toBe(true) // not toBe: a failure would print 5 MB
    const copy = join(dir, 'copy.ndjson')
    const redirected = await finished(spawn('bash', ['-c', `"${process.execPath}" "${bin}" cat "${filename}" > "${copy}"`]))
    expect(redirected.code).toBe(0)
    expect((await readFile(copy, 'utf8')) === original).toBe(true)
  })

  it('stops quietly with exit code 0 when its reader closes the pipe early (| head)', async () => {
    const dir = await tempDir()
    const filename = join(dir, 'big.ndjson')
    await writeLog(
      filename,
      Array.from({ length: 100_000 }, (_, n) => ({ type: 'counted', n, padding: 'x'.repeat(50) })),
    )
    // A real shell pipeline; pipefail makes the shell's exit code the CLI's.
    const pipeline = spawn('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${bin}" cat "${filename}" | head -n 3`])
    const result = await finished(pipeline)
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(
      result.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line).n),
    ).toEqual([0, 1, 2])

    // The same with a reader that goes away after its first chunk.
    const child = start(['cat', filename, '--pretty'])
    const ended = new Promise<{ code: number | null; stderr: string }>((resolve) => {
      let stderr = ''
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
      child.on('close', (code) => resolve({ code, stderr }))
    })
    child.stdout.once('data', () => child.stdout.destroy())
    expect(await ended).toEqual({ code: 0, stderr: '' })
  })
})
