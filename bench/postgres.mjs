// PostgreSQL rows of the benchmark: `npm run bench:postgres` (builds first;
// `-- --quick` for a tenth of the sizes). Starts an embedded PostgreSQL (or
// uses a fresh database on the server TES_POSTGRES_URL names) and measures,
// in the same run and on the same server, the log over postgresStorage
// against plain `pg`: appends against INSERTs, replay against a SELECT scan,
// and the delay from an append to a waiting iterator on another connection;
// appends with metadata (copied into columns) against `metadata: false`; a
// filtered read (in SQL) against the full read of the same log; conditional
// appends against plain ones, alone and with writers racing.
// Prints a Markdown table on stdout.
import pg from 'pg'
import { initLog } from '../dist/index.js'
import { postgresStorage } from '../dist/postgres.js'
import { startTestServer } from '../test/postgres/embedded-server.mjs'

const quick = process.argv.includes('--quick')
const scale = quick ? 0.1 : 1
const sizes = {
  burst: 100_000 * scale,
  awaited: 5_000 * scale,
  replay: 100_000 * scale,
  pings: Math.max(20, 200 * scale),
  filtered: 200_000 * scale,
  conditional: 2_000 * scale,
}
const reps = quick ? 1 : 3

const event = (n) => ({ type: 'bookmark', n, url: `https://example.com/page/${n}`, tags: ['a', 'b'], at: '2026-01-01T00:00:00.000Z' })
const now = () => performance.now()
const rate = (count, ms) => `${Math.round((count / ms) * 1000).toLocaleString('en-US')} events/s`
const log = (message) => process.stderr.write(`${message}\n`)

const server = await startTestServer()
const pool = new pg.Pool({ connectionString: server.url, max: 4 })
pool.on('error', () => {})
let logCount = 0
const freshLog = (options = {}) => initLog({ storage: postgresStorage({ pool, log: `bench-${++logCount}` }), ...options })
const freshStorage = async (storagePool = pool) => {
  const storage = postgresStorage({ pool: storagePool, log: `bench-${++logCount}` })
  await storage.open()
  return storage
}

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

log(`append burst with metadata: ${sizes.burst} un-awaited appends, _meta copied into columns, against metadata: false`)
{
  const burst = (options) => async () => {
    const target = await freshLog(options)
    const t0 = now()
    const pending = []
    for (let n = 0; n < sizes.burst; n++) pending.push(target.append(event(n)))
    await Promise.all(pending)
    const ms = now() - t0
    await target.close()
    return ms
  }
  const times = await best([
    ['log.append, metadata: false (baseline)', burst({ metadata: false })],
    ['log.append, with _meta and its columns', burst({})],
  ])
  const [baseline, withMeta] = [...times.values()]
  rows.push(['metadata, burst', 'log.append, metadata: false (baseline)', sizes.burst, baseline, rate(sizes.burst, baseline)])
  rows.push([
    'metadata, burst',
    'log.append, with _meta and its columns',
    sizes.burst,
    withMeta,
    `${rate(sizes.burst, withMeta)}, ${(baseline / withMeta).toFixed(2)}× the baseline (target ≥ 0.9×)`,
  ])
}

log(`filtered read: ${sizes.filtered} events, 1 in 20 of the type read, in SQL, against reading every event`)
{
  const storage = await freshStorage()
  const storageLog = logCount
  for (let start = 0; start < sizes.filtered; start += 5000) {
    const records = []
    for (let n = start; n < Math.min(sizes.filtered, start + 5000); n++) {
      records.push(JSON.stringify({ ...event(n), type: n % 20 === 0 ? 'info' : 'bookmark', url: `https://example.com/page/${n % 1000}` }))
    }
    await storage.append(records)
  }
  const readCount = (filter) => async () => {
    const t0 = now()
    let count = 0
    for await (const batch of storage.read(0, filter)) count += batch.length
    const ms = now() - t0
    const wanted = filter === undefined ? sizes.filtered : filter.where ? sizes.filtered / 1000 : sizes.filtered / 20
    if (count !== wanted) throw new Error(`the read saw ${count} events, not ${wanted}`)
    return ms
  }
  const times = await best([
    ['storage.read(0): every event (baseline)', readCount(undefined)],
    ["storage.read(0, { types: ['info'] })", readCount({ types: ['info'] })],
    ["storage.read(0, { types: ['info'], where: { url } })", readCount({ types: ['info'], where: { url: 'https://example.com/page/0' } })],
  ])
  const baseline = times.get('storage.read(0): every event (baseline)')
  for (const [name, ms] of times) {
    rows.push(['filtered read', name, sizes.filtered, ms, `${(baseline / ms).toFixed(1)}× the full read's speed (target ≥ 1×)`])
  }
  // The same through the log, as a reader in another process replays it.
  const replay = (filter) => async () => {
    const t0 = now()
    const reader = await initLog({ storage: postgresStorage({ pool, log: `bench-${storageLog}` }) })
    let count = 0
    for await (const _event of reader.events({ ...filter, until: reader.length - 1 })) count++
    const ms = now() - t0
    await reader.close()
    if (count !== (filter.types ? sizes.filtered / 20 : sizes.filtered)) throw new Error(`the replay saw ${count} events`)
    return ms
  }
  const logTimes = await best([
    ['log.events(): every event (baseline)', replay({})],
    ["log.events({ types: ['info'] })", replay({ types: ['info'] })],
  ])
  const logBaseline = logTimes.get('log.events(): every event (baseline)')
  for (const [name, ms] of logTimes) {
    rows.push(['filtered replay', name, sizes.filtered, ms, `${(logBaseline / ms).toFixed(1)}× the full replay's speed (target ≥ 1×)`])
  }
  await storage.close()
}

log(`conditional appends: ${sizes.conditional} awaited appends, each about one URL, against plain and expectedLastIndex ones`)
{
  const bookmark = (n) => JSON.stringify({ type: 'bookmark', url: `https://example.com/page/${n}` })
  const awaited = (append) => async () => {
    const storage = await freshStorage()
    // A log that already holds events of other URLs, so the condition has something to look through.
    await storage.append(Array.from({ length: 1000 }, (_, n) => bookmark(-1 - n)))
    const t0 = now()
    for (let n = 0; n < sizes.conditional; n++) await append(storage, n)
    const ms = now() - t0
    await storage.close()
    return ms
  }
  const times = await best([
    ['await storage.append (baseline)', awaited((storage, n) => storage.append([bookmark(n)]))],
    ['… with expectedLastIndex', awaited((storage, n) => storage.append([bookmark(n)], { expectedLastIndex: 999 + n }))],
    [
      '… with a condition { types, where: { url }, after: -1 } (the whole history)',
      awaited((storage, n) =>
        storage.append([bookmark(n)], { condition: { types: ['bookmark'], where: { url: `https://example.com/page/${n}` }, after: -1 } }),
      ),
    ],
    [
      '… with a condition { types, where: { url }, after: last index - 10 }',
      awaited((storage, n) =>
        storage.append([bookmark(n)], { condition: { types: ['bookmark'], where: { url: `https://example.com/page/${n}` }, after: 989 + n } }),
      ),
    ],
  ])
  const baseline = times.get('await storage.append (baseline)')
  for (const [name, ms] of times) {
    rows.push([
      'conditional append, awaited',
      name,
      sizes.conditional,
      ms,
      `${((ms / sizes.conditional) * 1000).toFixed(0)} µs each, ${(baseline / ms).toFixed(2)}× the baseline's speed`,
    ])
  }
}

log(`conditional appends racing: 4 writers on pools of their own, ${sizes.conditional} appends each`)
{
  const writerPools = Array.from({ length: 4 }, () => {
    const writerPool = new pg.Pool({ connectionString: server.url, max: 2 })
    writerPool.on('error', () => {})
    return writerPool
  })
  const race = (sameEntity) => async () => {
    const name = `bench-${++logCount}`
    const writers = await Promise.all(
      writerPools.map(async (writerPool) => {
        const storage = postgresStorage({ pool: writerPool, log: name })
        await storage.open()
        return storage
      }),
    )
    let conflicts = 0
    const t0 = now()
    await Promise.all(
      writers.map(async (storage, w) => {
        // Each decides from what it has seen: the last index its own appends and conflicts told it of.
        let seen = -1
        for (let n = 0; n < sizes.conditional; n++) {
          const url = sameEntity ? `https://example.com/page/${n}` : `https://example.com/writer/${w}/page/${n}`
          const record = JSON.stringify({ type: 'bookmark', url, w })
          // About the same URLs, a writer has not seen the others' claims: it checks the whole log.
          const after = sameEntity ? -1 : seen
          await storage.append([record], { condition: { types: ['bookmark'], where: { url }, after } }).then(
            (index) => {
              seen = index
            },
            (error) => {
              if (error.code !== 'APPEND_CONFLICT') throw error
              conflicts++
              seen = error.actualLastIndex
            },
          )
        }
      }),
    )
    const ms = now() - t0
    await Promise.all(writers.map((storage) => storage.close()))
    race.conflicts = conflicts
    return ms
  }
  for (const [label, sameEntity, expected] of [
    ['4 writers, each about its own URLs, after what it has seen', false, 'no conflicts expected'],
    ['4 writers about the same URLs, after: -1', true, `${3 * sizes.conditional} conflicts expected`],
  ]) {
    const times = await best([[label, race(sameEntity)]])
    const ms = times.get(label)
    const total = 4 * sizes.conditional
    rows.push(['conditional append, racing', label, total, ms, `${rate(total, ms)}, ${race.conflicts} conflicts (${expected})`])
  }
  await Promise.all(writerPools.map((writerPool) => writerPool.end()))
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
