/**
 * Crash rounds for atomic batches: a child process appends batches (up to
 * 150 events, about 1 MB) with `atomic: true` and is killed with SIGKILL at a
 * random moment, many rounds on the same file. After every round no batch is
 * ever half there: each batch in the log is whole, at contiguous indices;
 * every acknowledged batch is there; every batch set aside beside the log is
 * whole nowhere else, and only lines of one batch were set aside together.
 * A follower in another process, reading the file all along, sees exactly
 * the events the log keeps: never a batch that was later set aside.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fileStorage } from '../../src/index.js'
import { type Child, readWholeLog, rounds, sleep, startFixture, stress, tempDir } from './harness.js'

interface Batched {
  type: string
  tag: string
  batch: number
  seq: number
  of: number
  _meta?: Record<string, unknown>
}

const report: string[] = []
afterAll(() => {
  if (report.length > 0) console.log(`log batch crash rounds:\n${report.join('\n')}`)
})

describe('a writer of atomic batches killed at random moments', () => {
  const roundCount = rounds(6, 80)

  it(
    `never leaves a batch half there over ${roundCount} rounds`,
    async () => {
      const dir = await tempDir('batch-crash')
      let filename = join(dir, 'log.ndjson')
      let acknowledgedBatches = 0
      const storedBatches = new Set<string>()
      let tornBatches = 0
      let knownTorn = new Set<string>()
      // `tag batch` → first index and size, of every batch acknowledged in this file.
      let acknowledged = new Map<string, { first: number; size: number }>()

      let follower: Child | undefined
      let followed = 0
      for (let round = 0; round < roundCount; round++) {
        const tag = `r${round}`
        if (round > 0 && round % 10 === 0) {
          followed += await endFollowing(filename, follower!)
          filename = join(dir, `log-${round}.ndjson`) // a new file now and then: the disk fills fast
          acknowledged = new Map()
          follower = undefined
        }
        const child = await startFixture('log-batch-writer', [filename, tag])
        await child.waitForLine((line) => line.startsWith('ready '))
        if (follower === undefined) {
          follower = await startFixture('log-batch-follower', [filename])
          await follower.waitForLine((line) => line.startsWith('ready '))
        }
        await sleep(Math.random() * 400)
        child.process.kill('SIGKILL')
        const { signal } = await child.exited
        if (signal !== 'SIGKILL') throw new Error(`the writer ended by itself (${signal}):\n${child.stderr()}`)
        for (const line of child.lines) {
          const [word, lineTag, batch, first, size] = line.split(' ')
          if (word !== 'ack') continue
          acknowledged.set(`${lineTag} ${batch}`, { first: Number(first), size: Number(size) })
          acknowledgedBatches++
        }

        const events = await readWholeLog<Batched, Batched & { index: number }>(filename, ({ index, tag, batch, seq, of, _meta }) => ({
          index,
          type: 'batched',
          tag,
          batch,
          seq,
          of,
          _meta,
        }))
        // Contiguous indices; each batch whole, in order, at contiguous indices; no mark shown to a reader.
        let problem: string | undefined
        const batches = new Map<string, { first: number; size: number }>()
        for (let position = 0; position < events.length && problem === undefined; position++) {
          const event = events[position]!
          if (event.index !== position) problem = `event ${position} has index ${event.index}`
          else if (event._meta !== undefined && 'batchRemaining' in event._meta) problem = `event ${position} shows the batch mark`
          else if (event.seq === 0) {
            const batch = events.slice(position, position + event.of)
            const whole = batch.length === event.of && batch.every((e, seq) => e.tag === event.tag && e.batch === event.batch && e.seq === seq)
            if (!whole) problem = `batch ${event.tag} ${event.batch} at ${position} is not whole`
            else batches.set(`${event.tag} ${event.batch}`, { first: position, size: event.of })
          } else if (!batches.has(`${event.tag} ${event.batch}`)) problem = `event ${position} starts in the middle of batch ${event.tag} ${event.batch}`
        }
        expect(problem).toBeUndefined()
        for (const [key, where] of acknowledged) expect(batches.get(key), `acknowledged batch ${key}`).toEqual(where)

        // What was set aside: lines of one batch that is not in the log (and was never acknowledged), plus perhaps a torn line.
        const torn = (await readdir(dir)).filter((name) => name.includes('.torn-') && !knownTorn.has(name))
        for (const name of torn) {
          const lines = (await readFile(join(dir, name), 'utf8')).split('\n')
          const complete = lines.slice(0, -1).map((line) => JSON.parse(line) as Batched)
          if (complete.length === 0) continue // a torn last line alone: the batch's first line was never whole
          tornBatches++
          const { tag: tornTag, batch } = complete[0]!
          expect(
            complete.every((event, seq) => event.tag === tornTag && event.batch === batch && event.seq === seq),
            `${name} holds the start of one batch`,
          ).toBe(true)
          expect(complete.length, `${name} holds less than its whole batch`).toBeLessThan(complete[0]!.of)
          expect(acknowledged.has(`${tornTag} ${batch}`)).toBe(false)
          expect(events.some((event) => event.tag === tornTag && event.batch === batch)).toBe(false)
        }
        knownTorn = new Set([...knownTorn, ...torn])
        for (const key of batches.keys()) storedBatches.add(`${filename} ${key}`)
      }
      followed += await endFollowing(filename, follower!)
      // Over the long run, kills do land inside batch writes: the torn-batch path was really taken.
      if (stress) expect(tornBatches).toBeGreaterThan(0)
      report.push(
        `  ${roundCount} rounds, ${acknowledgedBatches} batches acknowledged, ${storedBatches.size} batches stored, each whole, ${tornBatches} torn batches set aside whole; ${followed} events seen by followers, exactly those kept`,
      )
    },
    rounds(180_000, 1_800_000),
  )
})

/**
 * Ends the follower of `filename` (an `end` event appended once no batch
 * writer runs) and checks that it saw exactly the events the log keeps, in
 * order: had it seen part of a batch that was then set aside, the events
 * written after it would have other indices. Returns how many it saw.
 */
async function endFollowing(filename: string, follower: Child): Promise<number> {
  const storage = fileStorage(filename)
  await storage.open()
  await storage.append([JSON.stringify({ type: 'end' })])
  await storage.close()
  await follower.waitForLine((line) => line === 'done')
  const { code } = await follower.exited
  expect(code, follower.stderr()).toBe(0)
  const kept = await readWholeLog<Batched, string>(filename, (event) => `seen ${event.index} ${event.tag} ${event.batch} ${event.seq}`)
  const seen = follower.lines.filter((line) => line.startsWith('seen '))
  expect(seen.length).toBe(kept.length - 1)
  expect(seen.findIndex((line, n) => line !== kept[n])).toBe(-1)
  return seen.length
}
