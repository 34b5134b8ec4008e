/**
 * State-store crash rounds: a child process appends to a log and keeps a read
 * model of it in a state store, and is killed with SIGKILL at random moments,
 * many rounds on the same files. After every round the state file must parse,
 * match its version exactly (the totals of the log's events up to it), never
 * be ahead of the log, never be older than the last flush the child saw
 * resolve, and open again as the same state; the temporary file a kill in
 * the middle of a write left is removed by the next write once a minute old.
 */
import { readdir, readFile, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fsStoreBackend, initStateStore } from '../../src/index.js'
import type { Deposit, Totals } from './fixtures/state-writer.js'
import { readWholeLog, rounds, sleep, startFixture, tempDir } from './harness.js'

const report: string[] = []
afterAll(() => {
  if (report.length > 0) console.log(`state store crash rounds:\n${report.join('\n')}`)
})

const configurations = [
  { writeInterval: 0, fsync: false },
  { writeInterval: 20, fsync: true },
  { writeInterval: 1000, fsync: false },
]

describe.each(configurations)('a projection killed at random moments (writeInterval $writeInterval, log fsync $fsync)', ({ writeInterval, fsync }) => {
  const roundCount = rounds(3, 60)

  it(
    `keeps a state file that matches its version over ${roundCount} rounds`,
    async () => {
      const dir = await tempDir('state-crash')
      const logFile = join(dir, 'log.ndjson')
      const stateFile = join(dir, 'totals.json')
      let lastFlushed = -1
      let stateWrites = 0
      let previousVersion = -1
      let temporariesLeft = 0
      const temporaries = async () => (await readdir(dir)).filter((name) => name.startsWith('totals.json.tmp-'))

      for (let round = 0; round < roundCount; round++) {
        const child = await startFixture('state-writer', [logFile, stateFile, String(writeInterval), fsync ? '1' : '0'])
        if (round % 3 === 0) {
          await sleep(Math.random() * 200)
        } else {
          await child.waitForLine((line) => line.startsWith('caught-up '))
          await sleep(Math.random() * 400)
        }
        child.process.kill('SIGKILL')
        const { signal } = await child.exited
        if (signal !== 'SIGKILL') throw new Error(`the writer ended by itself (${signal}):\n${child.stderr()}`)
        for (const line of child.lines) {
          if (line.startsWith('flushed ')) lastFlushed = Math.max(lastFlushed, Number(line.split(' ')[1]))
        }

        temporariesLeft += (await temporaries()).length
        const events = await readWholeLog<Deposit>(logFile)
        let text: string
        try {
          text = await readFile(stateFile, 'utf8')
        } catch (error) {
          // No state file yet: only possible while nothing was ever flushed.
          expect((error as NodeJS.ErrnoException).code).toBe('ENOENT')
          expect(lastFlushed).toBe(-1)
          continue
        }
        // Never half a file: it parses, and is the envelope.
        const envelope = JSON.parse(text) as { _version: number; state: Totals }
        const version = envelope._version
        expect(Number.isInteger(version)).toBe(true)
        // Never ahead of the log, never behind what a resolved flush promised.
        expect(version).toBeLessThan(events.length)
        expect(version).toBeGreaterThanOrEqual(lastFlushed)
        // Matches its version exactly: the totals of events 0…version.
        let total = 0
        for (let i = 0; i <= version; i++) total += events[i]!.amount
        expect(envelope.state).toEqual({ total, count: version + 1, last: version })
        if (version !== previousVersion) stateWrites++
        previousVersion = version

        // The store opens it as it is, and closing without updates leaves the file alone.
        const store = await initStateStore<Totals>({
          storeBackend: fsStoreBackend(stateFile),
          initialState: { total: 0, count: 0, last: -1 },
        })
        expect(store.getVersion()).toBe(version)
        expect(store.getState()).toEqual(envelope.state)
        await store.close()
        expect(await readFile(stateFile, 'utf8')).toBe(text)
        // A minute later, the next write removes what the kill left.
        const minuteAgo = new Date(Date.now() - 61_000)
        for (const name of await temporaries()) await utimes(join(dir, name), minuteAgo, minuteAgo)
        await fsStoreBackend(stateFile).write({ _version: version, state: envelope.state })
        expect(await readFile(stateFile, 'utf8')).toBe(text)
        expect(await temporaries()).toEqual([])
      }

      report.push(
        `  writeInterval ${writeInterval}, fsync ${fsync}: ${roundCount} rounds, ${previousVersion + 1} events reflected, ` +
          `${stateWrites} rounds ended with a newer state, last flush seen at ${lastFlushed}, ${temporariesLeft} temporary files left by kills (removed by the next write)`,
      )
    },
    rounds(120_000, 1_800_000),
  )
})
