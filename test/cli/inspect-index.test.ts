/**
 * The inspect command's first pass reads types, times and causes from the
 * lines' text; whatever a line looks like, it must agree with what the log
 * itself delivers.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { initLog } from '../../src/index.js'
import { removeTempDirs, start, stdoutLines, stopStarted, tempDir } from './run.js'

afterAll(removeTempDirs)

describe('inspect reads a log as the log does', () => {
  afterEach(stopStarted)

  it('agrees with log.events() on types, times and causes, for lines of every shape', async () => {
    const filename = join(await tempDir(), 'log.ndjson')
    const lines = [
      { type: 'old' }, // 0.2.x: no _meta
      { url: 'https://a.example', type: 'second' }, // type not first
      { type: 'quote"inside', _meta: { at: '2026-12-01T10:00:00.000Z' } },
      { type: 'nested', payload: { _meta: { at: '1999-01-01T00:00:00.000Z', causedBy: 0 } } }, // a field of the user's own named _meta, no metadata
      { type: 'long-correlation', _meta: { at: '2026-12-01T10:00:01.000Z', causedBy: 2, correlationId: 'c'.repeat(600) } },
      { type: 'no-at', _meta: { causedBy: 4 } },
      { notype: true, _meta: { at: '2026-12-01T10:00:02.000Z' } },
      { type: 'batched', _meta: { at: '2026-12-01T10:00:03.000Z', causedBy: 1, batchRemaining: 1 } },
      { type: 'batched', _meta: { at: '2026-12-01T10:00:03.000Z', causedBy: 1 } },
    ].map((event, index) => JSON.stringify({ ...event, index }))
    // A CRLF line end and a blank line, which the log reads past.
    await writeFile(filename, `${lines.slice(0, 3).join('\n')}\r\n\n${lines.slice(3).join('\n')}\n`)

    const log = await initLog({ filename, readOnly: true })
    const expected: { index: number; type: string; at?: string; causedBy?: number }[] = []
    for await (const event of log.events({ until: log.length - 1 })) {
      expected.push({
        index: event.index,
        type: typeof event.type === 'string' ? event.type : '(no type)',
        ...(event._meta?.at === undefined ? {} : { at: event._meta.at }),
        ...(event._meta?.causedBy === undefined ? {} : { causedBy: event._meta.causedBy }),
      })
    }
    await log.close()
    expect(expected).toHaveLength(lines.length)

    const child = start(['inspect', filename])
    const url = /Open (\S+)/.exec((await stdoutLines(child).until(2))[1]!)![1]!
    const api = async (path: string, params: Record<string, string> = {}) => {
      const target = new URL(url)
      target.pathname = path
      for (const [name, value] of Object.entries(params)) target.searchParams.set(name, value)
      return (await fetch(target)).json()
    }
    let summary = await api('/api/summary')
    while (summary.indexed < summary.length) summary = await api('/api/summary')
    expect(summary).toMatchObject({ length: lines.length, untimed: expected.filter((event) => event.at === undefined).length })
    const { events } = await api('/api/events')
    // What the browser's page says about each event, from the index: its time (by the time filter) and what it caused.
    const timed = await api('/api/events', { since: String(Date.parse('2000-01-01T00:00:00Z')) })
    expect(timed.events.map((row: { event: { index: number } }) => row.event.index)).toEqual(
      expected.filter((event) => event.at !== undefined).map((event) => event.index),
    )
    for (const { event, caused } of events as { event: { index: number }; caused: number[] }[]) {
      expect({ index: event.index, caused }).toEqual({
        index: event.index,
        caused: expected.filter((other) => other.causedBy === event.index).map((other) => other.index),
      })
    }
    const byType = Object.fromEntries(summary.types.map(({ type, count }: { type: string; count: number }) => [type, count]))
    const counted: Record<string, number> = {}
    for (const event of expected) counted[event.type] = (counted[event.type] ?? 0) + 1
    expect(byType).toEqual(counted)
    child.kill('SIGTERM')
  }, 60_000)
})
