// PostgreSQL rows of the benchmark: `npm run bench:postgres` (builds first;
// `-- --quick` for a tenth of the sizes). Starts an embedded PostgreSQL (or
// uses a fresh database on the server TES_POSTGRES_URL names) and measures,
// in the same run and on the same server, the log over postgresStorage
// against plain `pg`: appends against INSERTs, replay against a SELECT scan,
// and the delay from an append to a waiting iterator on another connection.
// Prints a Markdown table on stdout.
import pg from 'pg'
import { initLog } from '../dist/index.js'
import { postgresStorage } from '../dist/postgres.js'
import { startTestServer } from '../test/postgres/embedded-server.mjs'

const quick = process.argv.includes('--quick')
const scale = quick ? 0.1 : 1
const sizes = { burst: 100_000 * scale, awaited: 5_000 * scale, replay: 100_000 * scale, pings: Math.max(20, 200 * scale) }
const reps = quick ? 1 : 3

const event = (n) => ({ type: 'bookmark', n, url: `https://example.com/page/${n}`, tags: ['a', 'b'], at: '2026-01-01T00:00:00.000Z' })
const now = () => performance.now()
const rate = (count, ms) => `${Math.round((count / ms) * 1000).toLocaleString('en-US')} events/s`
const log = (message) => process.stderr.write(`${message}\n`)

const server = await startTestServer()
const pool = new pg.Pool({ connectionString: server.url, max: 4 })
pool.on('error', () => {})
let logCount = 0
const freshLog = () => initLog({ storage: postgresStorage({ pool, log: `bench-${++logCount}` }) })

await pool.query('CREATE TABLE plain_events (id bigserial PRIMARY KEY, event json NOT NULL)')
const freshPlainTable = () => pool.query('TRUNCATE plain_events RESTART IDENTITY')

/** Runs each subject `reps` times, interleaved, and keeps each one's best (lowest) time. */
async function best(subjects) {
  const times = new Map()
  for (let rep = 0; rep < reps; rep++) {
    for (const [name, run] of subjects) {
      const ms = await run()
      times.set(name, Math.min(times.get(name) ?? Infinity, ms))
    }
  }
  return times
}

const rows = []

log(`append burst: ${sizes.burst} un-awaited appends`)
{
  const times = await best([
    [
      'log.append (group commit)',
      async () => {
        const target = await freshLog()
        const t0 = now()
        const pending = []
        for (let n = 0; n < sizes.burst; n++) pending.push(target.append(event(n)))
        await Promise.all(pending)
        const ms = now() - t0
        await target.close()
        return ms
      },
    ],
    [
      'pg: INSERT of 1,000 rows a statement',
      async () => {
        await freshPlainTable()
        const t0 = now()
        for (let start = 0; start < sizes.burst; start += 1000) {
          const batch = []
          for (let n = start; n < Math.min(sizes.burst, start + 1000); n++) batch.push(JSON.stringify(event(n)))
          await pool.query('INSERT INTO plain_events (event) SELECT value FROM json_array_elements($1::json)', [`[${batch.join(',')}]`])
        }
        return now() - t0
      },
    ],
  ])
  for (const [name, ms] of times) rows.push(['append, burst', name, sizes.burst, ms, rate(sizes.burst, ms)])
}

log(`append awaited: ${sizes.awaited} appends, each awaited`)
{
  const times = await best([
    [
      'await log.append',
      async () => {
        const target = await freshLog()
        const t0 = now()
        for (let n = 0; n < sizes.awaited; n++) await target.append(event(n))
        const ms = now() - t0
        await target.close()
        return ms
      },
    ],
    [
      'pg: await one INSERT per event',
      async () => {
        await freshPlainTable()
        const t0 = now()
        for (let n = 0; n < sizes.awaited; n++) await pool.query('INSERT INTO plain_events (event) VALUES ($1)', [JSON.stringify(event(n))])
        return now() - t0
      },
    ],
  ])
  for (const [name, ms] of times)
    rows.push(['append, awaited', name, sizes.awaited, ms, `${rate(sizes.awaited, ms)}, ${((ms / sizes.awaited) * 1000).toFixed(0)} µs each`])
}

log(`replay: ${sizes.replay} events`)
{
  const source = await freshLog()
  const pending = []
  for (let n = 0; n < sizes.replay; n++) pending.push(source.append(event(n)))
  await Promise.all(pending)
  await source.close()
  const sourceName = `bench-${logCount}`
  await freshPlainTable()
  await pool.query(`INSERT INTO plain_events (event) SELECT event FROM tiny_event_sourcing.events WHERE log = $1 ORDER BY index`, [sourceName])
  const times = await best([
    [
      'log.events() from a fresh initLog',
      async () => {
        const t0 = now()
        const replayed = await initLog({ storage: postgresStorage({ pool, log: sourceName }) })
        let sum = 0
        for await (const stored of replayed.events()) {
          sum += stored.n
          if (stored.index === sizes.replay - 1) break
        }
        const ms = now() - t0
        await replayed.close()
        if (sum !== (sizes.replay * (sizes.replay - 1)) / 2) throw new Error('replay saw the wrong events')
        return ms
      },
    ],
    [
      'pg: SELECT scan, json parsed by pg',
      async () => {
        const t0 = now()
        const { rows: scanned } = await pool.query('SELECT event FROM plain_events ORDER BY id')
        let sum = 0
        for (const row of scanned) sum += row.event.n
        const ms = now() - t0
        if (sum !== (sizes.replay * (sizes.replay - 1)) / 2) throw new Error('scan saw the wrong events')
        return ms
      },
    ],
  ])
  for (const [name, ms] of times) rows.push(['replay', name, sizes.replay, ms, rate(sizes.replay, ms)])
}

log(`push delivery: ${sizes.pings} appends to an iterator waiting on another pool`)
{
  const followerPool = new pg.Pool({ connectionString: server.url, max: 2 })
  followerPool.on('error', () => {})
  const writer = await freshLog()
  const follower = await initLog({ storage: postgresStorage({ pool: followerPool, log: `bench-${logCount}` }) })
  await new Promise((resolve) => setTimeout(resolve, 300))
  const iterator = follower.events()
  const delays = []
  for (let n = 0; n < sizes.pings; n++) {
    const next = iterator.next()
    const t0 = now()
    await writer.append(event(n))
    await next
    delays.push(now() - t0)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await iterator.return()
  await Promise.all([writer.close(), follower.close()])
  await followerPool.end()
  delays.sort((a, b) => a - b)
  const at = (p) => delays[Math.min(delays.length - 1, Math.floor(delays.length * p))].toFixed(1)
  rows.push(['push delivery', 'append → waiting iterator, another pool', sizes.pings, undefined, `p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms`])
}

const {
  rows: [{ server_version: serverVersion }],
} = await pool.query('SHOW server_version')
await pool.end()
await server.stop()

console.log(`PostgreSQL ${serverVersion} benchmark (${quick ? 'quick' : 'full'}, best of ${reps}; Node ${process.version})\n`)
console.log('| what | subject | events | ms | result |')
console.log('| --- | --- | ---: | ---: | --- |')
for (const [what, subject, count, ms, result] of rows) {
  console.log(`| ${what} | ${subject} | ${count.toLocaleString('en-US')} | ${ms === undefined ? '' : ms.toFixed(0)} | ${result} |`)
}
