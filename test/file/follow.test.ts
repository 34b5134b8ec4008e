/**
 * A read-only follower whose file is replaced, deleted or truncated by another
 * program (`repair`, a fresh start, an editor) must not wait forever on a file
 * nobody writes any more: its iterators end with `LogReplacedError`.
 */
import { appendFile, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { fileStorage, initLog, LogReplacedError, TinyEventSourcingError, type Log } from '../../src/index.js'
import { run } from '../cli/run.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { cleanUpChildren, killChildren, startChild } from '../helpers/child.js'

afterAll(async () => {
  await cleanUpChildren()
  await removeTempDirs()
})
afterEach(killChildren)

type Counted = { type: string; n: number }

/** A path for a log file that does not exist yet, in a folder of its own. */
async function freshLogPath(): Promise<string> {
  return join(await tempDir('follow'), 'log.ndjson')
}

/** A log file written through the library: `count` events (without metadata, so they compare as written), the writer closed again. */
async function writtenLog(count: number): Promise<string> {
  const filename = await freshLogPath()
  const writer = await initLog<Counted>({ filename, metadata: false })
  for (let n = 0; n < count; n++) await writer.append({ type: 'counted', n })
  await writer.close()
  return filename
}

/** Starts a `for await` loop over `log.events()` recording each index; `ended` settles as the loop does. */
function follow(log: Log<Counted>): { seen: number[]; ended: Promise<unknown> } {
  const seen: number[] = []
  const ended = (async () => {
    for await (const event of log.events()) seen.push(event.index)
  })()
  ended.catch(() => {}) // awaited by the test; not an unhandled rejection meanwhile
  return { seen, ended }
}

/** Opens `filename` read-only and follows it (see `follow`) until it has seen the first `count` events. */
async function caughtUpFollower(filename: string, count: number): Promise<{ follower: Log<Counted>; seen: number[]; ended: Promise<unknown> }> {
  const follower = await initLog<Counted>({ filename, readOnly: true })
  const { seen, ended } = follow(follower)
  await expect.poll(() => seen.length, generously).toBe(count)
  return { follower, seen, ended }
}

/** Appends `count` events through a new writer of `filename`, then closes it. */
async function appendAfresh(filename: string, count: number): Promise<void> {
  const writer = await initLog<Counted>({ filename })
  for (let n = 0; n < count; n++) await writer.append({ type: 'fresh', n })
  await writer.close()
}

const remedy = 'open it again with initLog({ filename, readOnly: true }) to follow the new file'

function replacedMessage(filename: string, happened: string, seen: number): string {
  return `tiny-event-sourcing: ${filename} ${happened} after this follower had seen ${seen} events, so it cannot see what is written next; ${remedy}`
}

const generously = { timeout: 15_000 }

describe('a read-only follower whose file is', () => {
  it('replaced by `repair` (a new file renamed over it) ends its loop with LOG_REPLACED, after exactly the events it had', async () => {
    const filename = await writtenLog(3)
    const { follower, seen, ended } = await caughtUpFollower(filename, 3)
    // The writer died mid-append; the user repairs the file and starts the writer again.
    await appendFile(filename, '{"type":"counted","n":3,"ind')
    const inodeBefore = (await stat(filename)).ino
    const repair = await run(['repair', filename])
    expect(repair.stderr).toBe('')
    expect(repair.stdout).toMatch(/repaired; the original is kept as/)
    expect((await stat(filename)).ino).not.toBe(inodeBefore)
    await appendAfresh(filename, 2)

    const error = await ended.then(
      () => new Error('the loop ended without an error'),
      (caught: unknown) => caught,
    )
    expect(error).toBeInstanceOf(LogReplacedError)
    expect(error).toBeInstanceOf(TinyEventSourcingError)
    expect(error).toMatchObject({
      code: 'LOG_REPLACED',
      filename,
      message: replacedMessage(filename, 'was replaced by another file (renamed over, or deleted and created again)', 3),
    })
    expect(seen).toEqual([0, 1, 2])
    expect(follower.length).toBe(3)
    // A later loop fails the same way, before delivering anything.
    const later = follower.events()
    await expect(later.next()).rejects.toBe(error)
    await follower.close()
    // The follower changed nothing; opened again, it follows the new file.
    const again = await initLog<Counted>({ filename, readOnly: true })
    expect(again.length).toBe(5)
    await again.close()
  }, 30_000)

  it('replaced by hand (write a new file, rename it over) ends the loop of a follower in another process, which then exits by itself', async () => {
    const filename = await writtenLog(2)
    const child = await startChild(
      `
      import { initLog } from 'tiny-event-sourcing'
      const log = await initLog({ filename: process.argv[2], readOnly: true })
      try {
        for await (const event of log.events()) console.log(JSON.stringify(event))
      } catch (error) {
        console.log(JSON.stringify({ code: error.code, message: error.message }))
      }
      // No close(): nothing may keep the process alive once the loop has ended.
      `,
      [filename],
    )
    expect(JSON.parse(await child.nextLine())).toMatchObject({ type: 'counted', n: 0, index: 0 })
    expect(JSON.parse(await child.nextLine())).toMatchObject({ type: 'counted', n: 1, index: 1 })
    const draft = `${filename}.new`
    await writeFile(draft, `${JSON.stringify({ type: 'fresh', n: 0, index: 0 })}\n`)
    await rename(draft, filename)
    await appendAfresh(filename, 1)
    expect(JSON.parse(await child.nextLine())).toEqual({
      code: 'LOG_REPLACED',
      message: replacedMessage(filename, 'was replaced by another file (renamed over, or deleted and created again)', 2),
    })
    expect(await child.exited).toEqual({ code: 0, signal: null })
  }, 30_000)

  it('deleted ends the loop with LOG_REPLACED saying so', async () => {
    const filename = await writtenLog(2)
    const { follower, seen, ended } = await caughtUpFollower(filename, 2)
    await rm(filename)
    await expect(ended).rejects.toMatchObject({ code: 'LOG_REPLACED', message: replacedMessage(filename, 'was deleted', 2) })
    expect(seen).toEqual([0, 1])
    await follower.close()
  }, 30_000)

  it('deleted and started afresh by a new writer ends the loop with LOG_REPLACED', async () => {
    const filename = await writtenLog(2)
    const { follower, seen, ended } = await caughtUpFollower(filename, 2)
    await rm(filename)
    await appendAfresh(filename, 3)
    // Which of the two the follower sees first depends on when it looks.
    const error = (await ended.catch((caught: unknown) => caught)) as Error
    expect([
      replacedMessage(filename, 'was deleted', 2),
      replacedMessage(filename, 'was replaced by another file (renamed over, or deleted and created again)', 2),
    ]).toContain(error.message)
    expect(error).toMatchObject({ code: 'LOG_REPLACED' })
    expect(seen).toEqual([0, 1])
    await follower.close()
  }, 30_000)

  it('truncated, then written by a new writer, ends the loop with LOG_REPLACED naming both sizes', async () => {
    const filename = await writtenLog(5)
    const before = (await stat(filename)).size
    const { follower, seen, ended } = await caughtUpFollower(filename, 5)
    await truncate(filename, 0)
    await appendAfresh(filename, 2)
    const after = (await stat(filename)).size
    expect(after).toBeLessThan(before)
    const error = (await ended.catch((caught: unknown) => caught)) as Error
    // Seen right after the truncation, or only once the new writer had appended.
    expect([0, after].map((size) => replacedMessage(filename, `was truncated from ${before} to ${size} bytes`, 5))).toContain(error.message)
    expect(error).toMatchObject({ code: 'LOG_REPLACED', filename })
    expect(seen).toEqual([0, 1, 2, 3, 4])
    expect(follower.length).toBe(5)
    await follower.close()
  }, 30_000)

  it('replaced while no loop runs makes the next events() loop fail, before it delivers anything', async () => {
    const filename = await writtenLog(3)
    const follower = await initLog<Counted>({ filename, readOnly: true })
    const draft = `${filename}.new`
    await writeFile(draft, await readFile(filename))
    await rename(draft, filename) // the very same events, in another file
    // Each probe takes the first event and stops: from the old file until the follower notices.
    const firstStep = async () => {
      const events = follower.events()
      try {
        await events.next()
        return 'an event'
      } catch (error) {
        return (error as LogReplacedError).code
      } finally {
        await events.return?.()
      }
    }
    await expect.poll(firstStep, { timeout: 15_000, interval: 100 }).toBe('LOG_REPLACED')
    const error = await follower
      .events({ after: 2 })
      .next()
      .catch((caught: unknown) => caught)
    expect(error).toMatchObject({
      code: 'LOG_REPLACED',
      message: replacedMessage(filename, 'was replaced by another file (renamed over, or deleted and created again)', 3),
    })
    expect(follower.length).toBe(3)
    await follower.close()
  }, 30_000)
})

describe('a file truncated under a read', () => {
  it('fails a follower’s read with LOG_REPLACED instead of waiting for bytes that are gone', async () => {
    const filename = await writtenLog(4)
    const size = (await stat(filename)).size
    const storage = fileStorage(filename)
    expect(await storage.open({ readOnly: true })).toBe(4)
    await truncate(filename, 0)
    const reading = (async () => {
      for await (const batch of storage.read(0)) void batch
    })()
    await expect(reading).rejects.toMatchObject({
      code: 'LOG_REPLACED',
      message: replacedMessage(filename, `was truncated from ${size} to 0 bytes`, 4),
    })
    await storage.close()
  })

  it('fails a writer’s read saying another program changed the file', async () => {
    const filename = await writtenLog(4)
    const size = (await stat(filename)).size
    const storage = fileStorage(filename)
    expect(await storage.open()).toBe(4)
    await truncate(filename, 10)
    const reading = (async () => {
      for await (const batch of storage.read(0)) void batch
    })()
    await expect(reading).rejects.toThrow(
      `tiny-event-sourcing: ${filename} was changed by another program while this log had it open (10 bytes where this log wrote ${size}). Stop the other writer, check the file, and open the log again`,
    )
    await storage.close()
  })
})
