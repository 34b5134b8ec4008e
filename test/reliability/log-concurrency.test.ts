/**
 * Concurrency: followers in other processes see every event of a writer, in
 * order; subscribers in one process may append from their handlers; slow
 * subscribers do not make memory grow with the log.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { initLog, LogLockedError, memoryStorage, type Indexed, type Log } from '../../src/index.js'
import { readWholeLog, rounds, sleep, startFixture, tempDir } from './harness.js'

describe('a writer with read-only followers in other processes', () => {
  const count = rounds(3000, 30_000)

  it(
    `every follower sees all ${count} events, in order, whenever it started`,
    async () => {
      const dir = await tempDir('followers')
      const filename = join(dir, 'log.ndjson')
      const writer = await startFixture('log-steady-writer', [filename, String(count), '500'])
      await writer.waitForLine((line) => line === 'ready')
      // Two followers start before the first append, one while the writer is in full flow.
      const early = [await startFixture('log-follower', [filename, String(count - 1)]), await startFixture('log-follower', [filename, String(count - 1)])]
      await writer.waitForLine((line) => line.startsWith('progress ') && Number(line.split(' ')[1]) >= count / 3)
      const late = await startFixture('log-follower', [filename, String(count - 1)])
      const followers = [...early, late]

      const writerExit = await writer.exited
      expect(writerExit, writer.stderr()).toEqual({ code: 0, signal: null })
      for (const follower of followers) {
        const exit = await follower.exited
        expect(exit, follower.stderr()).toEqual({ code: 0, signal: null })
        const seen = follower.lines.filter((line) => line.startsWith('seen ')).map((line) => line.split(' ').slice(1).map(Number))
        expect(seen).toHaveLength(count)
        seen.forEach(([index, seq], position) => {
          expect(index).toBe(position)
          expect(seq).toBe(position)
        })
        expect(follower.lines.at(-1)).toBe('done')
      }
      // The late follower really started in the middle of the writing.
      const lateReady = Number(late.lines.find((line) => line.startsWith('ready '))!.split(' ')[1])
      expect(lateReady).toBeGreaterThan(0)
    },
    rounds(120_000, 600_000),
  )
})

describe('read-only followers while the writer is killed and restarted', () => {
  const roundCount = rounds(4, 30)

  it(
    `see exactly the events the log keeps, in order, across ${roundCount} writer crashes`,
    async () => {
      const filename = join(await tempDir('followers-crash'), 'log.ndjson')
      const start = await initLog({ filename })
      await start.append({ type: 'start' })
      await start.close()
      const followers = [await startFixture('log-follower', [filename, '-1']), await startFixture('log-follower', [filename, '-1'])]
      await Promise.all(followers.map((follower) => follower.waitForLine((line) => line.startsWith('ready '))))

      for (let round = 0; round < roundCount; round++) {
        // Big events make torn last lines likely: followers must never see one.
        const writer = await startFixture('log-writer', [filename, round % 2 === 0 ? 'big' : 'burst', '0', `r${round}`])
        await writer.waitForLine((line) => line.startsWith('ready '))
        await sleep(50 + Math.random() * 200)
        writer.process.kill('SIGKILL')
        await writer.exited
      }
      // One more follower opens the file as the last crash left it (often with a torn last line).
      const latecomer = await startFixture('log-follower', [filename, '-1'])
      await latecomer.waitForLine((line) => line.startsWith('ready '))
      followers.push(latecomer)
      // The next writer recovers the file and ends the story.
      const end = await initLog({ filename })
      await end.append({ type: 'end' })
      await end.close()

      const expected = (await readWholeLog<{ seq?: number; tag?: string }>(filename)).map((event) => `seen ${event.index} ${event.seq} ${event.tag}`)
      expect(expected.length).toBeGreaterThan(roundCount)
      for (const follower of followers) {
        const exit = await follower.exited
        expect(exit, follower.stderr()).toEqual({ code: 0, signal: null })
        const seen = follower.lines.filter((line) => line.startsWith('seen '))
        expect(seen.length).toBe(expected.length)
        const firstDifference = seen.findIndex((line, i) => line !== expected[i])
        expect(firstDifference, `first difference: follower saw ${seen[firstDifference]}, the log has ${expected[firstDifference]}`).toBe(-1)
      }
    },
    rounds(120_000, 900_000),
  )
})

describe('a second writer', () => {
  it('is refused while the first writer lives, naming it, and takes over once it was killed', async () => {
    const filename = join(await tempDir('second-writer'), 'log.ndjson')
    const first = await startFixture('log-writer', [filename, 'burst', '0', 'first'])
    await first.waitForLine((line) => line.startsWith('ack '))
    const refused = await initLog({ filename }).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(refused).toBeInstanceOf(LogLockedError)
    expect((refused as Error).message).toContain(`process ${first.process.pid}`)
    // A second writer process is refused just the same, and exits with that error.
    const second = await startFixture('log-writer', [filename, 'awaited', '0', 'second'])
    expect((await second.exited).code).not.toBe(0)
    expect(second.stderr()).toContain('LogLockedError')
    expect(second.lines.filter((line) => line.startsWith('ack '))).toEqual([])

    first.process.kill('SIGKILL')
    await first.exited
    // The dead writer's lock is taken over; every acknowledged append is there.
    const events = await readWholeLog<{ tag: string; seq: number }>(filename)
    const acknowledged = first.lines.filter((line) => line.startsWith('ack ')).length
    expect(events.length).toBeGreaterThanOrEqual(acknowledged)
    expect(events.every((event) => event.tag === 'first')).toBe(true)
  })
})

type Ping = { type: 'ping'; n: number } | { type: 'pong'; ping: number; by: number }

async function pingPong(log: Log<Ping>, subscriberCount: number, pingCount: number): Promise<void> {
  const total = pingCount * (1 + subscriberCount)
  const seenBy: Indexed<Ping>[][] = Array.from({ length: subscriberCount }, () => [])
  const loops = seenBy.map(async (seen, by) => {
    for await (const event of log.events()) {
      seen.push(event)
      // Appending from inside the handler, awaited, as the bookmark example does.
      if (event.type === 'ping') await log.append({ type: 'pong', ping: event.index, by })
      if (seen.length === total) break
    }
  })
  for (let n = 0; n < pingCount; n += 10) {
    await Promise.all(Array.from({ length: Math.min(10, pingCount - n) }, (_, i) => log.append({ type: 'ping', n: n + i })))
  }
  await Promise.all(loops)

  expect(log.length).toBe(total)
  const all = seenBy[0]!
  for (const seen of seenBy) {
    // Every subscriber saw the same events, all of them, in index order.
    expect(seen.map((event) => event.index)).toEqual(Array.from({ length: total }, (_, i) => i))
    expect(seen).toEqual(all)
  }
  // Every ping was answered exactly once by every subscriber, after it.
  const pings = all.filter((event) => event.type === 'ping')
  expect(pings).toHaveLength(pingCount)
  for (const ping of pings) {
    const pongs = all.filter((event) => event.type === 'pong' && event.ping === ping.index)
    expect(pongs.map((pong) => (pong as { by: number }).by).sort((a, b) => a - b)).toEqual(seenBy.map((_, by) => by))
    for (const pong of pongs) expect(pong.index).toBeGreaterThan(ping.index)
  }
}

describe('subscribers in one process appending from their handlers', () => {
  const pings = rounds(60, 600)

  it(`answers ${pings} pings from 12 subscribers exactly once each (file)`, async () => {
    const filename = join(await tempDir('ping'), 'log.ndjson')
    const log = await initLog<Ping>({ filename })
    await pingPong(log, 12, pings)
    await log.close()
    // Reopened, the file holds the same story.
    const reopened = await initLog<Ping>({ filename })
    expect(reopened.length).toBe(pings * 13)
    await reopened.close()
  })

  it(`answers ${pings} pings from 12 subscribers exactly once each (memory, fsync-free)`, async () => {
    const log = await initLog<Ping>({ storage: memoryStorage() })
    await pingPong(log, 12, pings)
    await log.close()
  })

  it('answers pings with fsync: true', async () => {
    const filename = join(await tempDir('ping-fsync'), 'log.ndjson')
    const log = await initLog<Ping>({ filename, fsync: true })
    await pingPong(log, 5, 20)
    await log.close()
  })
})

describe('slow and stalled subscribers', () => {
  const events = rounds(200_000, 1_000_000)

  it(
    `do not make memory grow with the log (${events} events of 500 bytes)`,
    async () => {
      const filename = join(await tempDir('memory'), 'log.ndjson')
      const child = await startFixture('slow-subscribers-memory', [filename, String(events)], ['--expose-gc'])
      const exit = await child.exited
      expect(exit, child.stderr()).toEqual({ code: 0, signal: null })
      const [baseline, peak] = child.lines
        .find((line) => line.startsWith('heap '))!
        .split(' ')
        .slice(1)
        .map(Number) as [number, number]
      const [slowLag] = child.lines
        .find((line) => line.startsWith('lag '))!
        .split(' ')
        .slice(1)
        .map(Number) as [number, number]
      const written = events * 500
      console.log(
        `memory: ${(written / 2 ** 20).toFixed(0)} MB written; heap ${(baseline / 2 ** 20).toFixed(1)} MB → peak ${(peak / 2 ** 20).toFixed(1)} MB; ` +
          `the slow subscriber was ${slowLag} events behind`,
      )
      // The slow subscriber really fell far behind, so the log could not just hand it what it had in memory...
      expect(slowLag).toBeGreaterThan(events / 2)
      // ...and yet the heap grew by far less than the data written (a generous bound: 48 MB for ≥ 100 MB written).
      expect(peak - baseline).toBeLessThan(48 * 2 ** 20)
    },
    rounds(120_000, 600_000),
  )
})
