import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { AppendConflictError, CorruptLogError, initLog, type Log } from '../../src/index.js'
import type { LogStorage } from '../../src/core/log-storage.js'
import { postgresStorage } from '../../src/postgres/index.js'
import { describeLogStorage } from '../../src/testing/index.js'
import { usePostgres } from './server.js'

const server = usePostgres()
let logCount = 0
/** A log name no other test uses, so tests share the server without seeing each other's events. */
const freshLogName = () => `test-log-${++logCount}`

type Event = { type: string; n?: number; text?: string }

const logNames = new WeakMap<LogStorage, string>()
function storageOn(pool: ReturnType<typeof server.pool>, log: string): LogStorage {
  const storage = postgresStorage({ pool, log })
  logNames.set(storage, log)
  return storage
}
let contractPool: ReturnType<typeof server.pool> | undefined
const sharedPool = () => (contractPool ??= server.pool())

describeLogStorage(
  'postgresStorage',
  {
    create: () => storageOn(sharedPool(), freshLogName()),
    reopen: (closed) => storageOn(sharedPool(), logNames.get(closed)!),
    // Another process would have a pool of its own.
    follow: (writer) => storageOn(server.pool({ max: 2 }), logNames.get(writer)!),
  },
  { describe, it },
)

async function collect<E>(log: Log<E>, count: number, after = -1): Promise<(E & { index: number })[]> {
  const seen: (E & { index: number })[] = []
  const controller = new AbortController()
  for await (const event of log.events({ after, signal: controller.signal })) {
    seen.push(event)
    if (seen.length === count) controller.abort()
  }
  return seen
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

describe('postgresStorage', () => {
  it('creates its tables, stores events with consecutive indices and reads them back after reopening', async () => {
    const pool = server.pool()
    const name = freshLogName()
    // Without metadata, so that the stored text can be compared byte for byte (metadata.test.ts checks _meta).
    const log = await initLog<Event>({ storage: postgresStorage({ pool, log: name }), metadata: false })
    expect(log.length).toBe(0)
    const stored = await Promise.all([log.append({ type: 'a', n: 1 }), log.append({ type: 'b', text: 'ünïcødé "quoted" \\ \n' })])
    expect(stored).toEqual([
      { type: 'a', n: 1, index: 0 },
      { type: 'b', text: 'ünïcødé "quoted" \\ \n', index: 1 },
    ])
    expect(await log.append({ type: 'c' })).toEqual({ type: 'c', index: 2 })
    await log.close()

    const { rows } = await pool.query(`SELECT index::int, event::text FROM tiny_event_sourcing.events WHERE log = $1 ORDER BY index`, [name])
    // Stored as the JSON text the log produced, byte for byte (json, not jsonb, keeps it).
    expect(rows).toEqual([
      { index: 0, event: '{"type":"a","n":1}' },
      { index: 1, event: JSON.stringify({ type: 'b', text: 'ünïcødé "quoted" \\ \n' }) },
      { index: 2, event: '{"type":"c"}' },
    ])

    const reopened = await initLog<Event>({ storage: postgresStorage({ pool, log: name }) })
    expect(reopened.length).toBe(3)
    expect(await collect(reopened, 3)).toEqual([
      { type: 'a', n: 1, index: 0 },
      { type: 'b', text: 'ünïcødé "quoted" \\ \n', index: 1 },
      { type: 'c', index: 2 },
    ])
    expect(await collect(reopened, 1, 1)).toEqual([{ type: 'c', index: 2 }])
    await reopened.close()
  })

  it('keeps logs of different names apart in the same tables', async () => {
    const pool = server.pool()
    const first = await initLog<Event>({ storage: postgresStorage({ pool, log: freshLogName() }) })
    const second = await initLog<Event>({ storage: postgresStorage({ pool, log: freshLogName() }) })
    await first.append({ type: 'one' })
    await second.append({ type: 'two' })
    await second.append({ type: 'three' })
    expect(await collect(first, 1)).toMatchObject([{ type: 'one', index: 0 }])
    expect(await collect(second, 2)).toMatchObject([
      { type: 'two', index: 0 },
      { type: 'three', index: 1 },
    ])
    await Promise.all([first.close(), second.close()])
  })

  it('replays a log longer than one read batch in order', async () => {
    const pool = server.pool()
    const log = await initLog<Event>({ storage: postgresStorage({ pool, log: freshLogName() }) })
    await Promise.all(Array.from({ length: 2500 }, (_, n) => log.append({ type: 'many', n })))
    await log.close()
    const reopened = await initLog<Event>({ storage: postgresStorage({ pool, log: log.name.match(/"(.*)"/)![1]! }) })
    const events = await collect(reopened, 2500)
    expect(events.map((event) => event.index)).toEqual(Array.from({ length: 2500 }, (_, n) => n))
    expect(events.every((event) => event.n === event.index)).toBe(true)
    await reopened.close()
  })

  it('rejects an append whose expectedLastIndex is stale with AppendConflictError, writing nothing', async () => {
    const pool = server.pool()
    const name = freshLogName()
    const mine = await initLog<Event>({ storage: postgresStorage({ pool, log: name }) })
    const theirs = await initLog<Event>({ storage: postgresStorage({ pool: server.pool(), log: name }) })
    expect(await mine.append({ type: 'first' }, { expectedLastIndex: -1 })).toMatchObject({ type: 'first', index: 0 })
    await theirs.append({ type: 'sneaked in' })

    const conflict = await mine.append({ type: 'late' }, { expectedLastIndex: 0 }).catch((error: unknown) => error)
    expect(conflict).toBeInstanceOf(AppendConflictError)
    expect(conflict).toMatchObject({ code: 'APPEND_CONFLICT', expectedLastIndex: 0, actualLastIndex: 1 })
    expect((conflict as Error).message).toContain(name)

    expect(await mine.append({ type: 'decided again' }, { expectedLastIndex: 1 })).toMatchObject({ type: 'decided again', index: 2 })
    const { rows } = await pool.query(`SELECT count(*)::int AS count FROM tiny_event_sourcing.events WHERE log = $1`, [name])
    expect(rows[0].count).toBe(3)
    await Promise.all([mine.close(), theirs.close()])
  })

  it('lets exactly one of several writers racing with the same expectedLastIndex win', async () => {
    const name = freshLogName()
    const logs = await Promise.all(Array.from({ length: 5 }, () => initLog<Event>({ storage: postgresStorage({ pool: server.pool(), log: name }) })))
    const results = await Promise.allSettled(logs.map((log, n) => log.append({ type: 'claim', n }, { expectedLastIndex: -1 })))
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1)
    const rejected = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected')
    expect(rejected).toHaveLength(4)
    for (const { reason } of rejected) expect(reason).toMatchObject({ code: 'APPEND_CONFLICT', expectedLastIndex: -1, actualLastIndex: 0 })
    await Promise.all(logs.map((log) => log.close()))
  })

  it('pushes an append made through another pool to a waiting iterator, and measures how fast', async () => {
    const name = freshLogName()
    const writer = await initLog<Event & { sentAt: number }>({ storage: postgresStorage({ pool: server.pool(), log: name }) })
    const follower = await initLog<Event & { sentAt: number }>({ storage: postgresStorage({ pool: server.pool(), log: name }) })
    const iterator = follower.events()
    const delays: number[] = []
    // Give the follower's LISTEN a moment to take effect; the safety poll would cover a miss, but slowly.
    await sleep(200)
    for (let n = 0; n < 20; n++) {
      const next = iterator.next()
      await sleep(5)
      await writer.append({ type: 'ping', n, sentAt: performance.now() })
      const { value } = await next
      delays.push(performance.now() - value!.sentAt)
      expect(value).toMatchObject({ type: 'ping', n, index: n })
    }
    delays.sort((a, b) => a - b)
    console.log(`PostgreSQL push delivery, another pool in the same process: median ${delays[10]!.toFixed(1)} ms, max ${delays[19]!.toFixed(1)} ms`)
    // Well under the safety poll's second: the notification, not the poll, delivered them.
    expect(delays[10]).toBeLessThan(500)
    await iterator.return?.()
    await Promise.all([writer.close(), follower.close()])
  })

  it('shares one listening connection among all the logs open on a pool', async () => {
    const tag = freshLogName()
    const pool = server.pool({ application_name: tag, max: 3 })
    const writer = await initLog<Event>({ storage: postgresStorage({ pool: server.pool(), log: `${tag}-0` }) })
    const names = Array.from({ length: 6 }, (_, n) => `${tag}-${n}`)
    const followers = await Promise.all(names.map((log) => initLog<Event>({ storage: postgresStorage({ pool, log }) })))
    const listening = async () =>
      (await server.pool().query(`SELECT count(*)::int AS count FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND application_name = $1`, [tag])).rows[0]
        .count as number
    await waitFor(async () => (await listening()) === 1, 'one connection to listen')
    // Six logs on a pool of three connections: appends and reads still have two.
    const next = followers[0]!.events().next()
    await writer.append({ type: 'pushed' })
    expect((await next).value).toMatchObject({ type: 'pushed', index: 0 })
    expect(await listening()).toBe(1)
    await Promise.all([writer.close(), ...followers.map((follower) => follower.close())])
    await waitFor(async () => (await listening()) === 0, 'the connection to stop listening')
  })

  it('catches up through its slow safety poll with events written without a notification', async () => {
    const pool = server.pool()
    const name = freshLogName()
    const follower = await initLog<Event>({ storage: postgresStorage({ pool, log: name }) })
    const seen = collect(follower, 2)
    await sleep(100)
    // Another program writing rows by hand, sending no NOTIFY.
    await pool.query(
      `WITH head AS (UPDATE tiny_event_sourcing.logs SET length = 2 WHERE log = $1)
       INSERT INTO tiny_event_sourcing.events (log, index, event) VALUES ($1, 0, '{"type":"quiet"}'), ($1, 1, '{"type":"quieter"}')`,
      [name],
    )
    expect(await seen).toMatchObject([
      { type: 'quiet', index: 0 },
      { type: 'quieter', index: 1 },
    ])
    await follower.close()
  })

  it('listens again after its listening connection is killed', async () => {
    const pool = server.pool()
    const name = freshLogName()
    const writer = await initLog<Event>({ storage: postgresStorage({ pool, log: name }) })
    // The writer listens too (other processes may append); tell the follower's connections apart by name.
    const follower = await initLog<Event>({ storage: postgresStorage({ pool: server.pool({ application_name: name }), log: name }) })
    const listeners = async () =>
      (await pool.query(`SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND application_name = $1`, [name])).rows.map((row) => row.pid as number)
    const iterator = follower.events()
    await waitFor(async () => (await listeners()).length === 1, 'the follower to listen')
    const [killed] = await listeners()
    await pool.query('SELECT pg_terminate_backend($1)', [killed])
    // The safety poll notices the lost connection and listens on a new one.
    await waitFor(async () => {
      const now = await listeners()
      return now.length === 1 && now[0] !== killed
    }, 'the follower to listen again')
    const next = iterator.next()
    await writer.append({ type: 'after the reconnect' })
    expect((await next).value).toMatchObject({ type: 'after the reconnect', index: 0 })
    await iterator.return?.()
    await Promise.all([writer.close(), follower.close()])
  })

  it('refuses to open a log whose length row disagrees with its events, naming the log', async () => {
    const pool = server.pool()
    const name = freshLogName()
    const log = await initLog<Event>({ storage: postgresStorage({ pool, log: name }) })
    await log.append({ type: 'a' })
    await log.append({ type: 'b' })
    await log.close()
    await pool.query(`DELETE FROM tiny_event_sourcing.events WHERE log = $1 AND index = 1`, [name])
    const error = await initLog({ storage: postgresStorage({ pool, log: name }) }).catch((error: unknown) => error)
    expect(error).toBeInstanceOf(CorruptLogError)
    expect(error).toMatchObject({ code: 'LOG_CORRUPT' })
    expect((error as Error).message).toContain(`"${name}"`)
    expect((error as Error).message).toContain('holds 2 events, but the last index')
  })

  it('reports a missing event in the middle of a log instead of skipping it', async () => {
    const pool = server.pool()
    const name = freshLogName()
    const log = await initLog<Event>({ storage: postgresStorage({ pool, log: name }) })
    for (const type of ['a', 'b', 'c']) await log.append({ type })
    await log.close()
    await pool.query(`DELETE FROM tiny_event_sourcing.events WHERE log = $1 AND index = 1`, [name])
    const storage = postgresStorage({ pool, log: name })
    // Opening checks only the ends; the hole is found when reading reaches it.
    await storage.open()
    const batches: unknown[] = []
    const error = await (async () => {
      for await (const batch of storage.read(0)) batches.push(batch)
    })().catch((error: unknown) => error)
    expect(error).toBeInstanceOf(CorruptLogError)
    expect((error as Error).message).toContain('event 1 is missing (the next stored event is 2)')
    expect(batches).toEqual([])
    await storage.close()
  })

  it('reports missing events at the end of a read batch instead of ending the read early', async () => {
    const pool = server.pool()
    const name = freshLogName()
    const log = await initLog<Event>({ storage: postgresStorage({ pool, log: name }) })
    await Promise.all(Array.from({ length: 1500 }, (_, n) => log.append({ type: 'many', n })))
    await log.close()
    await pool.query(`DELETE FROM tiny_event_sourcing.events WHERE log = $1 AND index BETWEEN 990 AND 999`, [name])
    const storage = postgresStorage({ pool, log: name })
    await storage.open()
    let read = 0
    const error = await (async () => {
      for await (const batch of storage.read(0)) read += batch.length
    })().catch((error: unknown) => error)
    expect(error).toBeInstanceOf(CorruptLogError)
    expect((error as Error).message).toContain('event 990 is missing (the log holds 1500 events)')
    expect(read).toBe(990)
    await storage.close()
  })

  it('makes and ends a pool of its own from a connection string', async () => {
    const pool = server.pool()
    const name = freshLogName()
    const connections = async () =>
      (await pool.query(`SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1`, [name])).rows[0].count as number
    const url = new URL(server.url)
    url.searchParams.set('application_name', name)
    const log = await initLog<Event>({ storage: postgresStorage({ connectionString: url.toString(), log: name }) })
    await log.append({ type: 'own pool' })
    expect(await connections()).toBeGreaterThan(0)
    await log.close()
    await waitFor(async () => (await connections()) === 0, 'its connections to close')
  })

  it('works for a role that may read and write the tables but create nothing', async () => {
    const admin = server.pool()
    const name = freshLogName()
    const setUp = await initLog<Event>({ storage: postgresStorage({ pool: admin, log: name }) })
    await setUp.close()
    const role = `tes_app_${process.pid}`
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'app-password'`)
    try {
      await admin.query(`GRANT USAGE ON SCHEMA tiny_event_sourcing TO ${role}`)
      await admin.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA tiny_event_sourcing TO ${role}`)
      const url = new URL(server.url)
      url.username = role
      url.password = 'app-password'
      const pool = server.pool({ connectionString: url.toString() })
      await expect(pool.query('CREATE SCHEMA IF NOT EXISTS tiny_event_sourcing')).rejects.toThrow(/permission denied/)
      const log = await initLog<Event>({ storage: postgresStorage({ pool, log: name }) })
      expect(await log.append({ type: 'as the app' })).toMatchObject({ type: 'as the app', index: 0 })
      await log.close()
    } finally {
      await admin.query(`DROP OWNED BY ${role}`)
      await admin.query(`DROP ROLE ${role}`)
    }
  })

  it('uses another schema when asked', async () => {
    const pool = server.pool()
    const log = await initLog<Event>({ storage: postgresStorage({ pool, log: 'elsewhere', schema: 'my "odd" schema' }) })
    await log.append({ type: 'here' })
    await log.close()
    const { rows } = await pool.query(`SELECT type, event->>'type' AS event_type FROM "my ""odd"" schema".events WHERE log = 'elsewhere'`)
    expect(rows).toEqual([{ type: 'here', event_type: 'here' }])
  })

  it('explains bad options', () => {
    expect(() => postgresStorage({ log: 'x' })).toThrow(
      /needs exactly one of \{ pool \} \(a pg Pool\) or \{ connectionString: "postgres:\/\/…" \}, got neither/,
    )
    expect(() => postgresStorage({ pool: server.pool(), connectionString: 'postgres://localhost/db', log: 'x' })).toThrow(/got both/)
    expect(() => postgresStorage({ connectionString: 'postgres://localhost/db', log: '' })).toThrow(
      /needs \{ log: "name" \}, a name of 1 to 1000 characters, got ""/,
    )
    expect(() => postgresStorage({ pool: {} as never, log: 'x' })).toThrow(/must be a pg Pool/)
    expect(() => postgresStorage(undefined as never)).toThrow(/needs options such as \{ pool \}/)
  })
})
