import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { distEntry } from '../helpers/dist.js'
import { removeTempDirs, run, start, stdoutLines, stopStarted, tempDir, writeLog, type RunResult } from './run.js'

/**
 * Another process writing the log through the library: each number it reads
 * on stdin appends that many events; it answers with the last index.
 */
function startWriter(filename: string): {
  child: ChildProcessWithoutNullStreams
  append(count: number): Promise<number>
  stop(): Promise<void>
} {
  const script = `
    import { initLog } from ${JSON.stringify(distEntry())}
    import { createInterface } from 'node:readline'
    const log = await initLog({ filename: ${JSON.stringify(filename)}, metadata: false })
    let n = 0
    for await (const line of createInterface({ input: process.stdin })) {

      for (let i = 0; i < Number(line); i++) await log.append({ type: 'written', n: n++ })
      process.stdout.write((log.length - 1) + '\\n')
    }
    await log.close()
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'pipe' })
  const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  return {
    child,
    async append(count) {
      child.stdin.write(`${count}\n`)
      const answer = await answers.next()
      if (answer.done) throw new Error('the writer ended')
      return Number(answer.value)
    },
    async stop() {
      child.stdin.end()
      await once(child, 'close')
    },
  }
}

/** Waits for a child to end, with its exit code, signal and stderr (stdout is read by `stdoutLines`). */
function exited(child: ChildProcessWithoutNullStreams): Promise<Omit<RunResult, 'stdout'>> {
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })))
}

function indicesOf(lines: string[]): number[] {
  return lines.map((line) => JSON.parse(line).index)
}

afterAll(removeTempDirs)

describe('tiny-event-sourcing tail', () => {
  afterEach(stopStarted)

  it('prints the last N events (10 by default) and ends', async () => {
    const filename = join(await tempDir(), 'log.ndjson')
    await writeLog(
      filename,
      Array.from({ length: 25 }, (_, n) => ({ type: 'counted', n })),
    )
    const byDefault = await run(['tail', filename])
    expect(byDefault.code).toBe(0)
    expect(indicesOf(byDefault.stdout.trimEnd().split('\n'))).toEqual([15, 16, 17, 18, 19, 20, 21, 22, 23, 24])
    const three = await run(['tail', '-n', '3', filename])
    expect(indicesOf(three.stdout.trimEnd().split('\n'))).toEqual([22, 23, 24])
    const more = await run(['tail', filename, '--lines', '100'])
    expect(more.stdout.trimEnd().split('\n')).toHaveLength(25)
    const none = await run(['tail', filename, '-n', '0'])
    expect(none).toMatchObject({ code: 0, stdout: '', stderr: '' })
    const upcast = join(dirname(filename), 'upcast.mjs')
    await writeFile(upcast, 'export const upcast = ({ type, n }) => ({ type, payload: { n } })\n')
    const upcasted = await run(['tail', filename, '-n', '1', '--upcast', upcast])
    expect(upcasted.stdout).toBe('{"type":"counted","payload":{"n":24},"index":24}\n')
  })

  it('with --follow, prints what a writer in another process appends, in order, as it is written', async () => {
    const filename = join(await tempDir(), 'log.ndjson')
    const writer = startWriter(filename)
    expect(await writer.append(3)).toBe(2)
    const follower = start(['tail', filename, '-n', '1', '--follow'])
    const output = stdoutLines(follower)
    const done = exited(follower)
    try {
      // The follower is following once it has printed the existing tail.
      expect(indicesOf(await output.until(1))).toEqual([2])
      for (let round = 0; round < 20; round++) await writer.append(3)
      const lines = await output.until(61)
      expect(indicesOf(lines)).toEqual(Array.from({ length: 61 }, (_, i) => i + 2))
      expect(JSON.parse(lines.at(-1)!)).toEqual({ type: 'written', n: 62, index: 62 })
    } finally {
      follower.kill('SIGTERM')
      await writer.stop()
    }
    const result = await done
    expect(result.signal).toBe('SIGTERM')
    expect(result.stderr).toBe('')
  })

  it('with --follow, ends with exit code 0 when its reader goes away', async () => {
    const filename = join(await tempDir(), 'log.ndjson')
    const writer = startWriter(filename)
    await writer.append(1)
    const follower = start(['tail', filename, '--follow'])
    const output = stdoutLines(follower)
    const ended = exited(follower)
    await output.until(1)
    follower.stdout.destroy()
    // Appends keep coming; the follower must notice its output is gone and stop.
    let stopped = false
    void ended.then(() => (stopped = true))
    while (!stopped) {
      await writer.append(1)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(await ended).toMatchObject({ code: 0, stderr: '' })
    await writer.stop()
  })

  it('with --follow, stops with exit code 1 and says so when the log file is replaced, as repair does', async () => {
    const filename = join(await tempDir(), 'log.ndjson')
    const writer = startWriter(filename)
    await writer.append(2)
    const follower = start(['tail', filename, '--follow'])
    const output = stdoutLines(follower)
    const done = exited(follower)
    expect(indicesOf(await output.until(2))).toEqual([0, 1])
    await writer.stop()
    // A new file renamed over the old one, and a new writer appending to it.
    await writeLog(`${filename}.new`, [{ type: 'fresh' }])
    await rename(`${filename}.new`, filename)
    const newWriter = startWriter(filename)
    await newWriter.append(1)
    const result = await done
    await newWriter.stop()
    expect(result).toMatchObject({ code: 1, signal: null })
    expect(result.stderr).toBe(
      `tiny-event-sourcing tail: ${filename} was replaced by another file (renamed over, or deleted and created again) after this follower had seen 2 events, ` +
        `so it cannot see what is written next; run \`tiny-event-sourcing tail ${filename} --follow\` again to follow the new file\n`,
    )
    expect(indicesOf(await output.until(2))).toEqual([0, 1])
  })

  it('with -n 0 --follow, prints only the events appended after it started, from an empty log', async () => {
    const filename = join(await tempDir(), 'log.ndjson')
    const writer = startWriter(filename)
    await writer.append(0)
    const follower = start(['tail', filename, '-n', '0', '-f'])
    const output = stdoutLines(follower)
    const done = exited(follower)
    // With -n 0 it prints nothing until an append comes after it started;
    // how long starting takes is unknown, so append until it speaks.
    let last = -1
    let printed = 0
    void output.until(1).then(
      () => (printed = 1),
      () => {},
    )
    while (printed === 0) {
      last = await writer.append(1)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    last = await writer.append(5)
    const firstSeen = indicesOf(await output.until(1))[0]!
    const seen = indicesOf(await output.until(last - firstSeen + 1))
    // Only new events, each once, in order, through the last one appended.
    expect(seen).toEqual(Array.from({ length: last - firstSeen + 1 }, (_, i) => firstSeen + i))
    expect(firstSeen).toBeGreaterThanOrEqual(0)
    follower.kill('SIGTERM')
    await writer.stop()
    expect((await done).stderr).toBe('')
  })
})
