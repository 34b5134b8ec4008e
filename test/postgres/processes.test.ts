/**
 * Several processes on one PostgreSQL log: writers racing, followers tailing,
 * each a real Node process running the built package.
 */
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { killChildren, startChild, type Child } from '../helpers/child.js'
import { usePostgres } from './server.js'

const server = usePostgres()
afterEach(killChildren)

/** Starts one of the scripts in fixtures/ as a child process. */
async function start(script: string, args: string[]): Promise<Child> {
  return startChild(await readFile(new URL(`fixtures/${script}`, import.meta.url), 'utf8'), args)
}

/** Every line the child prints from now until it exits, which it must do with code 0. */
async function restOfOutput(child: Child): Promise<string[]> {
  const lines: string[] = []
  for (;;) {
    try {
      lines.push(await child.nextLine())
    } catch {
      break
    }
  }
  const { code, signal } = await child.exited
  if (code !== 0) throw new Error(`child exited with ${code ?? signal}:\n${child.stderr()}`)
  return lines
}

describe('PostgreSQL log shared by processes', () => {
  it('4 writer processes × 1,000 concurrent appends: contiguous indices in commit order, 2 followers see every event in the same order', async () => {
    const writers = 4
    const perWriter = 1000
    const total = writers * perWriter
    const log = 'shared-by-processes'
    const followers = await Promise.all([0, 1].map(() => start('follower.mjs', [server.url, log, String(total)])))
    await Promise.all(followers.map((follower) => follower.lineWhere((line) => line === 'ready')))
    const writerProcesses = await Promise.all(Array.from({ length: writers }, (_, w) => start('writer.mjs', [server.url, log, `w${w}`, String(perWriter)])))
    await Promise.all(writerProcesses.map((writer) => writer.lineWhere((line) => line === 'ready')))
    for (const writer of writerProcesses) writer.process.stdin!.write('go\n')

    // What each writer was told: the index each of its appends got.
    const given = await Promise.all(writerProcesses.map(async (writer) => JSON.parse((await restOfOutput(writer)).pop()!) as number[]))
    // Every index from 0 to total - 1 handed out exactly once.
    expect(given.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, index) => index))
    // A writer's appends land in the order it made them.
    for (const indices of given) expect(indices).toEqual([...indices].sort((a, b) => a - b))

    const pool = server.pool()
    const { rows } = await pool.query(
      `SELECT index::int, event->>'writer' AS writer, (event->>'n')::int AS n FROM tiny_event_sourcing.events WHERE log = $1 ORDER BY index`,
      [log],
    )
    expect(rows).toHaveLength(total)
    for (const row of rows) expect(given[Number(row.writer.slice(1))]![row.n]).toBe(row.index)
    // The writers really raced: their appends are interleaved in the log, not one writer after another.
    const switches = rows.filter((row, i) => i > 0 && row.writer !== rows[i - 1].writer).length
    expect(switches).toBeGreaterThan(20)

    for (const follower of followers) {
      const seen = (await restOfOutput(follower)).map((line) => JSON.parse(line) as { index: number; writer: string; n: number })
      // The same events, in the same order, as the table holds: none skipped, none repeated.
      expect(seen.map(({ index, writer, n }) => ({ index, writer, n }))).toEqual(rows)
    }
  }, 180_000)

  it('an append in one process reaches an iterator waiting in another within milliseconds (LISTEN/NOTIFY, not the poll)', async () => {
    const log = 'ping-pong'
    const pings = 20
    const follower = await start('follower.mjs', [server.url, log, String(pings)])
    const pinger = await start('pinger.mjs', [server.url, log])
    await Promise.all([follower.lineWhere((line) => line === 'ready'), pinger.lineWhere((line) => line === 'ready')])
    // Let the follower's LISTEN take effect before timing (a missed notification would be caught by the 1 s poll).
    await sleep(300)
    const delays: number[] = []
    for (let n = 0; n < pings; n++) {
      pinger.process.stdin!.write('ping\n')
      const line = await follower.lineWhere((line) => line.includes(`"type":"ping","n":${n},`))
      const { sentAt, receivedAt } = JSON.parse(line) as { sentAt: number; receivedAt: number }
      delays.push(receivedAt - sentAt)
      await sleep(30)
    }
    pinger.process.stdin!.end()
    await Promise.all([restOfOutput(follower), restOfOutput(pinger)])
    delays.sort((a, b) => a - b)
    const median = delays[Math.floor(pings / 2)]!
    console.log(
      `PostgreSQL push delivery across processes (append → iterator, commit included): median ${median.toFixed(1)} ms, ` +
        `p90 ${delays[Math.floor(pings * 0.9)]!.toFixed(1)} ms, max ${delays[pings - 1]!.toFixed(1)} ms`,
    )
    // The target is 50 ms; the bound here is generous for a loaded machine, yet
    // well below the 1 s safety poll, so only a pushed wake-up passes it.
    expect(median).toBeLessThan(500)
  }, 120_000)

  it('8 processes deciding at once, half about one entity and half about others: one same-entity winner a round, no other conflict, ever', async () => {
    const log = 'deciders'
    const rounds = 100
    const deciders = await Promise.all(Array.from({ length: 8 }, (_, d) => start('decider.mjs', [server.url, log, `d${d}`])))
    await Promise.all(deciders.map((decider) => decider.lineWhere((line) => line === 'ready')))
    let last = -1
    const won: number[] = []
    for (let round = 0; round < rounds; round++) {
      // Deciders 0–3 about the same entity, 4–7 each about its own; all having read up to the same index.
      const entities = deciders.map((_, d) => (d < 4 ? `same-${round}` : `own-${round}-${d}`))
      deciders.forEach((decider, d) => decider.process.stdin!.write(`${round} ${last} ${entities[d]}\n`))
      const results = await Promise.all(
        deciders.map(async (decider) => JSON.parse(await decider.nextLine()) as { round: number; result: string; index?: number; lostTo?: number }),
      )
      for (const result of results) expect(result.round).toBe(round)
      const outcome = results.map((result) => result.result)
      expect({ round, sameEntityWinners: outcome.slice(0, 4).filter((result) => result === 'won').length }).toEqual({ round, sameEntityWinners: 1 })
      expect({ round, others: outcome.slice(4) }).toEqual({ round, others: ['won', 'won', 'won', 'won'] })
      // Each same-entity loser lost to that round's winner.
      const winner = results.slice(0, 4).find((result) => result.result === 'won')!
      for (const result of results.slice(0, 4)) if (result.result === 'conflict') expect(result.lostTo).toBe(winner.index)
      for (const result of results) if (result.index !== undefined) won.push(result.index)
      last += 5
    }
    for (const decider of deciders) decider.process.stdin!.end()
    await Promise.all(deciders.map((decider) => restOfOutput(decider)))
    // Every claim that won holds its own index, contiguous; nothing else was written.
    expect(won.sort((a, b) => a - b)).toEqual(Array.from({ length: rounds * 5 }, (_, index) => index))
    const { rows } = await server
      .pool()
      .query(
        `SELECT entity, count(*)::int AS count FROM (SELECT event->>'entity' AS entity FROM tiny_event_sourcing.events WHERE log = $1) claims GROUP BY entity`,
        [log],
      )
    expect(rows).toHaveLength(rounds * 5)
    for (const row of rows) expect(row.count).toBe(1)
  }, 180_000)
})
