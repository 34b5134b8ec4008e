/**
 * Crash rounds: a child process appends to a log and is killed with SIGKILL
 * at a random moment, many rounds on the same file. After every round the log
 * must open, its indices must be contiguous, every line must parse, and every
 * append the child saw resolve must be in the file exactly once, in call order.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Indexed } from '../../src/index.js'
import { readLines, readWholeLog, rounds, sleep, startFixture, stress, tempDir } from './harness.js'

interface CrashEvent {
  type: string
  tag: string
  seq: number
  pad?: string
}

interface Counts {
  rounds: number
  killedBeforeReady: number
  acknowledged: number
  stored: number
  tornTails: number
}

const report: string[] = []
afterAll(() => {
  if (report.length > 0) console.log(`log crash rounds:\n${report.join('\n')}`)
})

const configurations = [
  { mode: 'awaited', fsync: false },
  { mode: 'awaited', fsync: true },
  { mode: 'burst', fsync: false },
  { mode: 'burst', fsync: true },
  { mode: 'big', fsync: false },
]

async function tornFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.includes('.torn-')).sort()
}

describe.each(configurations)('a writer killed at random moments ($mode appends, fsync: $fsync)', ({ mode, fsync }) => {
  const roundCount = rounds(3, 80)

  it(
    `loses no acknowledged append over ${roundCount} rounds`,
    async () => {
      const dir = await tempDir('crash')
      let filename = join(dir, 'log.ndjson')
      const counts: Counts = { rounds: 0, killedBeforeReady: 0, acknowledged: 0, stored: 0, tornTails: 0 }
      // tag → the seqs acknowledged in that round, and the index each was given.
      const acknowledged = new Map<string, Map<number, number>>()
      let knownTorn = 0
      let storedInEarlierFiles = 0

      for (let round = 0; round < roundCount; round++) {
        const tag = `r${round}`
        // Big events fill the disk fast: they start a new file every 10 rounds.
        if (mode === 'big' && round > 0 && round % 10 === 0) {
          filename = join(dir, `log-${round}.ndjson`)
          acknowledged.clear()
          storedInEarlierFiles = counts.stored
        }
        const child = await startFixture('log-writer', [filename, mode, fsync ? '1' : '0', tag])
        // Half the rounds die anywhere from start-up to opening the log (lock, recovery); the rest while appending.
        // Most big-event rounds die while writing (within the child's first 32 MB).
        if (round % (mode === 'big' ? 4 : 2) === 0) {
          await sleep(Math.random() * 150)
        } else {
          await child.waitForLine((line) => line.startsWith('ready '))
          await sleep(Math.random() * (mode === 'big' ? 100 : 300))
        }
        child.process.kill('SIGKILL')
        const { signal } = await child.exited
        if (signal !== 'SIGKILL') throw new Error(`the writer ended by itself (${signal}):\n${child.stderr()}`)
        if (!child.lines.some((line) => line.startsWith('ready '))) counts.killedBeforeReady++

        const acks = new Map<number, number>()
        for (const line of child.lines) {
          const [word, lineTag, seq, index] = line.split(' ')
          if (word !== 'ack') continue
          expect(lineTag).toBe(tag)
          acks.set(Number(seq), Number(index))
        }
        acknowledged.set(tag, acks)
        counts.acknowledged += acks.size

        // The log opens after the crash (taking over the dead writer's lock).
        // Only what the checks need is kept: the log grows to hundreds of MB.
        const events = await readWholeLog<CrashEvent, Pick<Indexed<CrashEvent>, 'index' | 'tag' | 'seq'>>(filename, ({ index, tag, seq }) => ({
          index,
          tag,
          seq,
        }))

        // Indices are contiguous, and every line on disk is one complete event carrying its position.
        // (Checked in plain loops and asserted once: the log grows to hundreds of thousands of events.)
        expect(events.findIndex((event, position) => event.index !== position)).toBe(-1)
        let position = 0
        let misplaced: string | undefined
        for await (const line of readLines(filename)) {
          const index = (JSON.parse(line) as { index: number }).index
          if (index !== position && misplaced === undefined) misplaced = `line ${position + 1} has index ${index}`
          position++
        }
        expect(misplaced).toBeUndefined()
        expect(position).toBe(events.length)

        // Every acknowledged append is there once, at the index it was given;
        // each round's appends are stored in call order, none missing in between.
        const seen = new Map<string, number[]>()
        for (const event of events) {
          const seqs = seen.get(event.tag) ?? []
          seqs.push(event.seq)
          seen.set(event.tag, seqs)
        }
        for (const [ackTag, ackSeqs] of acknowledged) {
          const stored = seen.get(ackTag) ?? []
          const outOfOrder = stored.findIndex((seq, n) => seq !== n)
          expect(outOfOrder, `round ${ackTag} stored seq ${stored[outOfOrder]} at its position ${outOfOrder}`).toBe(-1)
          for (const [seq, index] of ackSeqs) {
            const event = events[index]
            if (event?.tag !== ackTag || event.seq !== seq) {
              expect(event, `acknowledged append ${ackTag}#${seq} at index ${index}`).toMatchObject({ tag: ackTag, seq })
            }
          }
        }

        // A torn last line is set aside, never an acknowledged event.
        const torn = await tornFiles(dir)
        for (const name of torn.slice(knownTorn)) {
          const fragment = await readFile(join(dir, name), 'utf8')
          expect(fragment.includes('\n'), `${name} holds a complete line`).toBe(false)
          expect(fragment.length, `${name} is empty`).toBeGreaterThan(0)
          let parsed: Partial<CrashEvent> | undefined
          try {
            parsed = JSON.parse(fragment) as Partial<CrashEvent>
          } catch {
            parsed = undefined
          }
          if (parsed?.tag !== undefined) expect(acknowledged.get(parsed.tag)?.has(parsed.seq!)).not.toBe(true)
        }
        counts.tornTails += torn.length - knownTorn
        knownTorn = torn.length
        counts.rounds++
        counts.stored = storedInEarlierFiles + events.length
      }

      expect(counts.rounds).toBe(roundCount)
      // Over the long run, kills do land in the middle of big writes: the torn-tail path was really taken.
      if (stress && mode === 'big') expect(counts.tornTails).toBeGreaterThan(0)
      report.push(
        `  ${mode}, fsync ${fsync}: ${counts.rounds} rounds, ${counts.killedBeforeReady} killed before the log opened, ` +
          `${counts.acknowledged} appends acknowledged, ${counts.stored} events stored, ${counts.tornTails} torn tails set aside`,
      )
    },
    rounds(120_000, 1_800_000),
  )
})
