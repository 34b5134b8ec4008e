import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { bin, finished, removeTempDirs, run, tempDir, writeLog } from './run.js'

async function prototypeLog(): Promise<{ dir: string; filename: string }> {
  const dir = await tempDir()
  const filename = join(dir, 'log.ndjson')
  // Written as 0.2.x wrote it, without times: first and last seen are indices.
  await writeLog(filename, [
    { type: 'bookmark', url: 'https://example.com', user: { id: 7, agent: 'curl' } },
    { type: 'bookmark', url: 'https://nodejs.org', user: { id: 8 }, tags: ['js'] },
    { type: 'info', url: 'https://example.com', title: 'Example Domain', faviconUrl: null },
    { type: 'bookmark', url: 'https://vitest.dev', user: { id: 7 } },
    { note: 'no type here' },
  ])
  return { dir, filename }
}

afterAll(removeTempDirs)

describe('tiny-event-sourcing stats', () => {
  it('counts events per type and catalogues every field with its frequency, kinds and an example', async () => {
    const { filename } = await prototypeLog()
    const result = await run(['stats', filename, '--json'])
    expect(result).toMatchObject({ code: 0, stderr: '' })
    const bytes = (await readFile(filename)).length
    expect(JSON.parse(result.stdout)).toEqual({
      log: filename,
      events: 5,
      bytes,
      untimedEvents: 5,
      types: {
        bookmark: {
          events: 3,
          firstSeen: { index: 0 },
          lastSeen: { index: 3 },
          uncataloguedFields: 0,
          fields: {
            type: { events: 3, kinds: ['string'], example: 'bookmark', firstSeen: { index: 0 }, lastSeen: { index: 3 } },
            url: { events: 3, kinds: ['string'], example: 'https://example.com', firstSeen: { index: 0 }, lastSeen: { index: 3 } },
            user: { events: 3, kinds: ['object'], example: null, firstSeen: { index: 0 }, lastSeen: { index: 3 } },
            'user.id': { events: 3, kinds: ['number'], example: 7, firstSeen: { index: 0 }, lastSeen: { index: 3 } },
            'user.agent': { events: 1, kinds: ['string'], example: 'curl', firstSeen: { index: 0 }, lastSeen: { index: 0 } },
            tags: { events: 1, kinds: ['array'], example: ['js'], firstSeen: { index: 1 }, lastSeen: { index: 1 } },
          },
        },
        '(no type)': {
          events: 1,
          firstSeen: { index: 4 },
          lastSeen: { index: 4 },
          uncataloguedFields: 0,
          fields: { note: { events: 1, kinds: ['string'], example: 'no type here', firstSeen: { index: 4 }, lastSeen: { index: 4 } } },
        },
        info: {
          events: 1,
          firstSeen: { index: 2 },
          lastSeen: { index: 2 },
          uncataloguedFields: 0,
          fields: {
            type: { events: 1, kinds: ['string'], example: 'info', firstSeen: { index: 2 }, lastSeen: { index: 2 } },
            url: { events: 1, kinds: ['string'], example: 'https://example.com', firstSeen: { index: 2 }, lastSeen: { index: 2 } },
            title: { events: 1, kinds: ['string'], example: 'Example Domain', firstSeen: { index: 2 }, lastSeen: { index: 2 } },
            faviconUrl: { events: 1, kinds: ['null'], example: null, firstSeen: { index: 2 }, lastSeen: { index: 2 } },
          },
        },
      },
    })
  })

  it('prints the catalogue as tables for people', async () => {
    const { filename } = await prototypeLog()
    const result = await run(['stats', filename])
    expect(result).toMatchObject({ code: 0, stderr: '' })
    const bytes = (await readFile(filename)).length
    expect(result.stdout).toContain(`${filename}: 5 events, ${bytes} B, indices 0–4`)
    expect(result.stdout).toContain('No event has a time (written by 0.2.x or with metadata: false): first and last seen give indices, as #N.\n')
    expect(result.stdout).toMatch(/^bookmark\s+3\s+60%\s+#0\s+#3$/m)
    expect(result.stdout).toContain('bookmark (3 events)')
    expect(result.stdout).toContain('\ninfo (1 event)\n')
    expect(result.stdout).toMatch(/^ {2}user\.agent\s+1\s+33%\s+string\s+#0\s+#0\s+"curl"$/m)
    expect(result.stdout).toMatch(/^ {2}faviconUrl\s+1\s+100%\s+null\s+#2\s+#2$/m)
  })

  it('says when each type and field was first and last seen, from the times the log recorded, and leaves _meta out of the catalogue', async () => {
    const filename = join(await tempDir(), 'log.ndjson')
    await writeLog(filename, [
      { type: 'bookmark', url: 'https://a.example' }, // written before times were recorded
      { type: 'bookmark', url: 'https://b.example', _meta: { at: '2026-12-01T10:00:00.000Z' } },
      { type: 'info', url: 'https://b.example', title: 'B', _meta: { at: '2026-12-01T10:00:01.000Z', causedBy: 1 } },
      { type: 'bookmark', url: 'https://c.example', tags: ['y'], _meta: { at: '2026-12-02T09:00:00.000Z' } },
    ])
    const json = JSON.parse((await run(['stats', filename, '--json'])).stdout)
    expect(json.untimedEvents).toBe(1)
    expect(json.types.bookmark).toMatchObject({ firstSeen: { index: 0 }, lastSeen: { index: 3, at: '2026-12-02T09:00:00.000Z' } })
    expect(json.types.bookmark.fields.tags).toMatchObject({ firstSeen: { index: 3, at: '2026-12-02T09:00:00.000Z' } })
    expect(json.types.info.fields.title).toMatchObject({ firstSeen: { index: 2, at: '2026-12-01T10:00:01.000Z' } })
    expect(Object.keys(json.types.info.fields)).toEqual(['type', 'url', 'title'])
    const text = (await run(['stats', filename])).stdout
    expect(text).toContain('Events without a time (1 of them, written by 0.2.x or with metadata: false) are given by index, as #N, where first or last seen.\n')
    expect(text).toMatch(/^type\s+events\s+share\s+first seen\s+last seen$/m)
    expect(text).toMatch(/^bookmark\s+3\s+75%\s+#0\s+2026-12-02 09:00:00$/m)
    expect(text).toMatch(/^ {2}tags\s+1\s+33%\s+array\s+2026-12-02 09:00:00\s+2026-12-02 09:00:00\s+\["y"\]$/m)
  })

  it('catalogues what an --upcast module delivers', async () => {
    const { dir, filename } = await prototypeLog()
    const upcast = join(dir, 'upcast.mjs')
    await writeFile(upcast, 'export default ({ type, index, ...payload }) => ({ type, payload })\n')
    const result = await run(['stats', filename, '--json', '--upcast', upcast])
    const fields = JSON.parse(result.stdout).types.bookmark.fields
    expect(Object.keys(fields)).toEqual(['type', 'payload', 'payload.url', 'payload.user', 'payload.user.id', 'payload.user.agent', 'payload.tags'])
  })

  it('lists a bounded number of fields when events carry objects used as maps', async () => {
    const filename = join(await tempDir(), 'log.ndjson')
    await writeLog(
      filename,
      Array.from({ length: 1000 }, (_, n) => ({ type: 'visits', byUrl: { [`https://example.com/${n}`]: n } })),
    )
    const result = await run(['stats', filename])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^ {2}byUrl\s+1,000\s+100%\s+object\s+#0\s+#999$/m)
    expect(result.stdout.split('\n').filter((line) => line.startsWith('  byUrl.https'))).toHaveLength(200 - 2)
    expect(result.stdout).toContain('  … and 802 more field paths, not listed: an object used as a map (ids or URLs as keys) lists every key\n')
    expect(JSON.parse((await run(['stats', filename, '--json'])).stdout).types.visits.uncataloguedFields).toBe(802)
  })

  it('reports an empty log', async () => {
    const filename = join(await tempDir(), 'empty.ndjson')
    await writeFile(filename, '')
    const result = await run(['stats', filename])
    expect(result).toMatchObject({ code: 0, stderr: '', stdout: `${filename}: 0 events, 0 B\n` })
  })

  it('draws a progress bar on standard error only when it is a terminal', async () => {
    const dir = await tempDir()
    const filename = join(dir, 'big.ndjson')
    await writeLog(
      filename,
      Array.from({ length: 300_000 }, (_, n) => ({ type: n % 2 ? 'even' : 'odd', n, text: 'lorem ipsum dolor sit amet' })),
    )
    // Piped: standard error stays silent.
    const piped = await run(['stats', filename])
    expect(piped).toMatchObject({ code: 0, stderr: '' })
    // A terminal, through util-linux `script`: stdout goes to a file, stderr to the terminal it records.
    const out = join(dir, 'stats.txt')
    const script = spawn('script', ['-qec', `"${process.execPath}" "${bin}" stats "${filename}" > "${out}"`, '/dev/null'])
    const terminal = await finished(script)
    expect(terminal.code).toBe(0)
    expect(terminal.stdout).toMatch(/\r\[[#.]+\] \d+% [\d,]+\/300,000 events/)
    expect(terminal.stdout.endsWith('\r\x1b[K')).toBe(true) // the bar is erased at the end
    expect(await readFile(out, 'utf8')).toBe(piped.stdout)
  })
})
