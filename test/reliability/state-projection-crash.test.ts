/**
 * In-place projection crash rounds: a child process keeps a growing read
 * model with project() and a counting reducer that changes the state in
 * place, and is killed with SIGKILL at random moments (often in the middle
 * of a save, which takes many slices), many rounds on the same files. After
 * every round the state file must be exactly the fold of the log's events up
 * to its version: each applied once, none skipped. The next round goes on
 * from it, so an event applied twice after a restart would show too.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Counted, Deposit } from './fixtures/projection-writer.js'
import { readWholeLog, rounds, sleep, startFixture, tempDir } from './harness.js'

const report: string[] = []
afterAll(() => {
  if (report.length > 0) console.log(`in-place projection crash rounds:\n${report.join('\n')}`)
})

describe.each([{ writeInterval: 0 }, { writeInterval: 50 }])(
  'an in-place projection killed at random moments (writeInterval $writeInterval)',
  ({ writeInterval }) => {
    const roundCount = rounds(12, 100)

    it(
      `applies every event exactly once across ${roundCount} kill -9 rounds`,
      async () => {
        const dir = await tempDir('projection-crash')
        const logFile = join(dir, 'log.ndjson')
        const stateFile = join(dir, 'counted.json')
        let lastFlushed = -1
        let newerStates = 0
        let previousVersion = -1
        for (let round = 0; round < roundCount; round++) {
          const child = await startFixture('projection-writer', [logFile, stateFile, String(writeInterval)])
          await child.waitForLine((line) => line.startsWith('caught-up '))
          await sleep(50 + Math.random() * 400)
          child.process.kill('SIGKILL')
          const { signal } = await child.exited
          if (signal !== 'SIGKILL') throw new Error(`the writer ended by itself (${signal}):\n${child.lines.join('\n')}\n${child.stderr()}`)
          for (const line of child.lines) {
            if (line.startsWith('flushed ')) lastFlushed = Math.max(lastFlushed, Number(line.split(' ')[1]))
          }
          const events = await readWholeLog<Deposit>(logFile)
          let text: string
          try {
            text = await readFile(stateFile, 'utf8')
          } catch (error) {
            expect((error as NodeJS.ErrnoException).code).toBe('ENOENT')
            expect(lastFlushed).toBe(-1)
            continue
          }
          const envelope = JSON.parse(text) as { _version: number; _projection: number; state: Counted }
          const version = envelope._version
          expect(envelope._projection).toBe(1)
          expect(version).toBeLessThan(events.length)
          expect(version).toBeGreaterThanOrEqual(lastFlushed)
          // Exactly the fold of events 0…version: a double application or a skip changes count, total or amounts.
          let total = 0
          const amounts: Counted['amounts'] = {}
          for (let i = 0; i <= version; i++) {
            total += events[i]!.amount
            amounts[i] = { amount: events[i]!.amount, label: `deposit ${i} of ${events[i]!.amount}; `.repeat(12) }
          }
          expect(envelope.state.count).toBe(version + 1)
          expect(envelope.state.last).toBe(version)
          expect(envelope.state.total).toBe(total)
          expect(envelope.state.amounts).toEqual(amounts)
          if (version !== previousVersion) newerStates++
          previousVersion = version
        }
        // Saves happened in between (the first after opening waits for the state read: not every round sees one).
        expect(newerStates).toBeGreaterThanOrEqual(2)
        report.push(
          `  writeInterval ${writeInterval}: ${roundCount} rounds, ${previousVersion + 1} events reflected, ${newerStates} rounds ended with a newer state`,
        )
      },
      rounds(240_000, 1_800_000),
    )
  },
)
