/** `cat` and `tail` select events by time (`--since`/`--until`), field value (`--where`) and causation (`--caused-by`). */
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { initLog } from '../../src/index.js'
import { removeTempDirs, run, start, stdoutLines, stopStarted, tempDir, writeLog } from './run.js'

const now = Date.now()
const ago = (ms: number) => new Date(now - ms).toISOString()
const hour = 3_600_000

/** A log upgraded from 0.2.x: event 0 has no time; the others carry `_meta` as the log writes it. */
async function timedLog(): Promise<string> {
  const filename = join(await tempDir(), 'log.ndjson')
  await writeLog(filename, [
    { type: 'bookmark', url: 'https://a.example' },
    { type: 'bookmark', url: 'https://b.example', _meta: { at: ago(72 * hour), correlationId: 'c-1' } },
    { type: 'info', url: 'https://b.example', title: 'B', _meta: { at: ago(71 * hour), causedBy: 1, correlationId: 'c-1' } },
    { type: 'bookmark', url: 'https://c.example', _meta: { at: ago(3 * hour) } },
    { type: 'tag', url: 'https://b.example', tag: 'x', _meta: { at: ago(2 * hour), causedBy: 2, correlationId: 'c-1' } },
    { type: 'info', url: 'https://c.example', title: 'C', _meta: { at: ago(30 * 60_000), causedBy: 3 } },
    { type: 'visit', url: 'https://b.example', n: 3, _meta: { at: ago(60_000), causedBy: 4, correlationId: 'c-1' } },
  ])
  return filename
}

const indices = (stdout: string) =>
  stdout
    .trimEnd()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line).index as number)

afterAll(removeTempDirs)

describe('cat and tail by time', () => {
  afterEach(stopStarted)

  it('cat --since and --until take durations ago and ISO times, bounds included, and say which events have no time', async () => {
    const filename = await timedLog()
    const lastHour = await run(['cat', filename, '--since', '1h'])
    expect(indices(lastHour.stdout)).toEqual([5, 6])
    expect(lastHour.stderr).toBe(
      'cat: 1 event has no time (written by 0.2.x or with metadata: false) and was left out by --since/--until; select them by index with --from/--to\n',
    )
    expect(indices((await run(['cat', filename, '--since', '2d', '--until', '90m'])).stdout)).toEqual([3, 4])
    expect(indices((await run(['cat', filename, '--until', ago(71 * hour)])).stdout)).toEqual([1, 2])
    expect(indices((await run(['cat', filename, '--since', ago(3 * hour), '--type', 'tag', '--type', 'visit'])).stdout)).toEqual([4, 6])
    // A date alone is its midnight UTC; a time without zone is UTC, as the log's times are.
    const day = new Date(now - 72 * hour).toISOString().slice(0, 10)
    expect(
      indices(
        (
          await run([
            'cat',
            filename,
            '--since',
            day,
            '--until',
            `${ago(72 * hour)
              .slice(0, 19)
              .replace('T', ' ')}`,
          ])
        ).stdout,
      ),
    ).toEqual([])
    expect(indices((await run(['cat', filename, '--since', ago(72 * hour).slice(0, 23)])).stdout)).toEqual([1, 2, 3, 4, 5, 6])
  })

  it('refuses times it cannot read, and ranges that select nothing', async () => {
    const filename = await timedLog()
    const bad = await run(['cat', filename, '--since', 'yesterday'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--since expects an ISO time such as 2026-12-01T21:30Z, or a duration ago such as 30m, 1h, 2d or 1w; got 'yesterday'")
    const backwards = await run(['cat', filename, '--since', '1h', '--until', '2h'])
    expect(backwards.code).toBe(2)
    expect(backwards.stderr).toMatch(/--until \S+ is before --since \S+; nothing would be printed/)
    const follow = await run(['tail', filename, '--follow', '--until', '1h'])
    expect(follow.code).toBe(2)
    expect(follow.stderr).toContain('--until and --follow cannot go together')
  })

  it('tail prints the last N of the selected events, then follows only selected ones', async () => {
    const filename = await timedLog()
    expect(indices((await run(['tail', filename, '-n', '2', '--since', '2d'])).stdout)).toEqual([5, 6])
    expect(indices((await run(['tail', filename, '-n', '5', '--until', '2h', '--type', 'bookmark'])).stdout)).toEqual([1, 3])
    const follower = start(['tail', filename, '-n', '1', '--type', 'info', '--follow'])
    const lines = stdoutLines(follower)
    expect((await lines.until(1)).map((line) => JSON.parse(line).index)).toEqual([5])
    const writer = await initLog({ filename })
    await writer.append({ type: 'visit', url: 'https://c.example' })
    await writer.append({ type: 'info', url: 'https://d.example', title: 'D' })
    await writer.close()
    expect((await lines.until(2)).map((line) => JSON.parse(line).index)).toEqual([5, 8])
    follower.kill('SIGTERM')
  })
})

describe('cat --where and --caused-by', () => {
  it('--where compares a top-level field as JSON, as log.events({ where }) does', async () => {
    const filename = await timedLog()
    expect(indices((await run(['cat', filename, '--where', 'url=https://b.example'])).stdout)).toEqual([1, 2, 4, 6])
    expect(indices((await run(['cat', filename, '-w', 'url=https://b.example', '-t', 'info'])).stdout)).toEqual([2])
    expect(indices((await run(['cat', filename, '--where', 'n=3'])).stdout)).toEqual([6])
    expect(indices((await run(['cat', filename, '--where', 'n="3"'])).stdout)).toEqual([])
    const bad = await run(['cat', filename, '--where', 'url'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--where expects FIELD=VALUE, such as url=https://a.example or n=3; got 'url'")
  })

  it('--caused-by N prints N and every event it led to, through the events in between', async () => {
    const filename = await timedLog()
    expect(indices((await run(['cat', filename, '--caused-by', '1'])).stdout)).toEqual([1, 2, 4, 6])
    expect(indices((await run(['cat', filename, '--caused-by', '3'])).stdout)).toEqual([3, 5])
    expect(indices((await run(['cat', filename, '--caused-by', '6'])).stdout)).toEqual([6])
    // The chain runs through events that other options leave unprinted.
    expect(indices((await run(['cat', filename, '--caused-by', '1', '--type', 'visit'])).stdout)).toEqual([6])
    expect(indices((await run(['cat', filename, '--caused-by', '1', '--from', '3'])).stdout)).toEqual([4, 6])
    expect(indices((await run(['cat', filename, '--caused-by', '0'])).stdout)).toEqual([0])
    expect((await run(['cat', filename, '--caused-by', 'x'])).stderr).toContain("--caused-by expects a whole number of 0 or more, got 'x'")
  })
})
