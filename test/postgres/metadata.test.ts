/**
 * Event metadata in real columns (type, at, caused_by, correlation_id), and
 * an events table of the schema before them, migrated in place on open.
 */
import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { initLog, TinyEventSourcingError } from '../../src/index.js'
import type { LogStorage } from '../../src/core/log-storage.js'
import { postgresStorage } from '../../src/postgres/index.js'
import { usePostgres } from './server.js'

const server = usePostgres()
let schemaCount = 0
/** A schema no other test uses. */
const freshSchema = () => `tes_metadata_${++schemaCount}`

async function readAll(storage: LogStorage, filter?: Parameters<LogStorage['read']>[1]): Promise<Record<string, unknown>[]> {
  const events: Record<string, unknown>[] = []
  for await (const batch of storage.read(0, filter)) events.push(...batch)
  return events
}

/** Creates `schema` with the tables of the version before metadata (the DDL kept in fixtures/). */
async function createOldSchema(pool: ReturnType<typeof server.pool>, schema: string): Promise<void> {
  const ddl = await readFile(new URL('fixtures/schema-before-metadata.sql', import.meta.url), 'utf8')
  await pool.query(ddl.replaceAll('tiny_event_sourcing', schema))
}

/** Appends `events` as the version before metadata did: one statement moving the length and inserting `(log, index, event)`. */
async function appendAsOldVersion(pool: ReturnType<typeof server.pool>, schema: string, log: string, events: string[]): Promise<void> {
  await pool.query(`INSERT INTO ${schema}.logs (log) VALUES ($1) ON CONFLICT (log) DO NOTHING`, [log])
  await pool.query(
    `WITH head AS (UPDATE ${schema}.logs SET length = length + $3 WHERE log = $1 RETURNING length)
     INSERT INTO ${schema}.events (log, index, event)
     SELECT $1, head.length - $3 + e.ordinality - 1, e.value FROM head, json_array_elements($2::json) WITH ORDINALITY AS e`,
    [log, `[${events.join(',')}]`, events.length],
  )
}

// Events as the version before metadata wrote them: odd types, a user's own
// fields named like metadata (a 0.2.x user's `_meta` too), and text PostgreSQL's
// JSON operators find hard (NUL).
const oldEvents = [
  '{"type":"bookmark","url":"https://a.example"}',
  '{"type":5,"n":1}',
  '{"n":2}',
  '{"type":"note","at":"yesterday","_meta":{"at":"not a time","causedBy":"x"}}',
  '{"type":"bookmark","text":"nul \\u0000 inside"}',
]

describe('PostgreSQL metadata columns', () => {
  it('copies type and _meta from each record into type, at, caused_by and correlation_id, which SQL can query', async () => {
    const pool = server.pool()
    const schema = freshSchema()
    const storage = postgresStorage({ pool, log: 'meta', schema })
    await storage.open()
    const records = [
      '{"type":"bookmark","url":"https://a.example","_meta":{"at":"2026-12-01T21:30:00.123Z","correlationId":"c-1"}}',
      '{"type":"info","title":"A","_meta":{"at":"2026-12-01T21:30:01.000Z","causedBy":0,"correlationId":"c-1"}}',
      '{"type":"bookmark","at":"my own field","time":1,"_meta":{"at":"2026-12-01T21:31:00.000Z"}}',
      '{"type":7}',
      '{"untyped":true}',
      // A user's own _meta nested at the end (metadata: false), and a _meta of other shapes: not the log's.
      '{"type":"note","data":{"_meta":{"at":"2026-12-01T21:30:00.123Z","causedBy":1}}}',
      '{"type":"note","_meta":{"at":"yesterday","causedBy":1.5,"correlationId":7}}',
    ]
    expect(await storage.append(records)).toBe(0)
    const { rows } = await pool.query(
      `SELECT index::int, type, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, caused_by::int, correlation_id, event::text
       FROM ${schema}.events WHERE log = 'meta' ORDER BY index`,
    )
    expect(rows).toEqual([
      { index: 0, type: 'bookmark', at: '2026-12-01T21:30:00.123Z', caused_by: null, correlation_id: 'c-1', event: records[0] },
      { index: 1, type: 'info', at: '2026-12-01T21:30:01.000Z', caused_by: 0, correlation_id: 'c-1', event: records[1] },
      { index: 2, type: 'bookmark', at: '2026-12-01T21:31:00.000Z', caused_by: null, correlation_id: null, event: records[2] },
      // Only a string is a type a filter can name.
      { index: 3, type: null, at: null, caused_by: null, correlation_id: null, event: records[3] },
      { index: 4, type: null, at: null, caused_by: null, correlation_id: null, event: records[4] },
      { index: 5, type: 'note', at: null, caused_by: null, correlation_id: null, event: records[5] },
      { index: 6, type: 'note', at: null, caused_by: null, correlation_id: null, event: records[6] },
    ])
    // The columns are for SQL: what happened in a time range, what an event led to.
    const inRange = await pool.query(`SELECT index::int FROM ${schema}.events WHERE at >= '2026-12-01T21:30:00.5Z' AND at < '2026-12-01T21:31Z' ORDER BY index`)
    expect(inRange.rows).toEqual([{ index: 1 }])
    const caused = await pool.query(`SELECT index::int FROM ${schema}.events WHERE caused_by = 0`)
    expect(caused.rows).toEqual([{ index: 1 }])
    // The events read back as stored, _meta and all.
    expect(await readAll(storage)).toEqual(records.map((record, index) => ({ ...JSON.parse(record), index })))
    await storage.close()
  })

  it('fills the columns through initLog too, with the time of the append', async () => {
    const pool = server.pool()
    const schema = freshSchema()
    const log = await initLog<{ type: string }>({ storage: postgresStorage({ pool, log: 'through-the-log', schema }) })
    const before = Date.now()
    await log.append({ type: 'bookmark' })
    await log.close()
    const { rows } = await pool.query(`SELECT type, at, event->'_meta'->>'at' AS meta_at FROM ${schema}.events`)
    expect(rows).toHaveLength(1)
    expect(rows[0].type).toBe('bookmark')
    // Where the log records the time, the column holds it; where it does not yet, both are absent.
    if (rows[0].meta_at === null) {
      expect(rows[0].at).toBeNull()
    } else {
      expect(new Date(rows[0].meta_at).getTime()).toBe((rows[0].at as Date).getTime())
      expect((rows[0].at as Date).getTime()).toBeGreaterThanOrEqual(before - 1)
    }
  })
})

describe('an events table of the schema before metadata', () => {
  it('is migrated in place on open: nothing dropped, types filled in, old rows without times; it replays and takes appends', async () => {
    const pool = server.pool()
    const schema = freshSchema()
    await createOldSchema(pool, schema)
    await appendAsOldVersion(pool, schema, 'old', oldEvents)
    await pool.query(`INSERT INTO ${schema}.states (name, envelope) VALUES ('model', '{"_version":4,"state":{"n":1}}')`)

    const log = await initLog<Record<string, unknown>>({ storage: postgresStorage({ pool, log: 'old', schema }) })
    expect(log.length).toBe(oldEvents.length)
    const replayed: Record<string, unknown>[] = []
    for await (const event of log.events()) {
      replayed.push(event)
      if (event.index === oldEvents.length - 1) break
    }
    expect(replayed).toEqual(oldEvents.map((record, index) => ({ ...JSON.parse(record), index })))
    expect((await log.append({ type: 'bookmark', url: 'https://new.example' })).index).toBe(oldEvents.length)
    await log.close()

    const { rows } = await pool.query(`SELECT index::int, event::text, type, at, caused_by, correlation_id FROM ${schema}.events ORDER BY index`)
    // The old rows, byte for byte, with their type; no metadata (a 0.2.x user's own `_meta` is not taken for it).
    expect(rows.slice(0, oldEvents.length)).toEqual(
      oldEvents.map((event, index) => ({
        index,
        event,
        type: ['bookmark', null, null, 'note', 'bookmark'][index],
        at: null,
        caused_by: null,
        correlation_id: null,
      })),
    )
    expect(rows[oldEvents.length]).toMatchObject({ type: 'bookmark' })
    const states = await pool.query(`SELECT envelope::text FROM ${schema}.states`)
    expect(states.rows).toEqual([{ envelope: '{"_version":4,"state":{"n":1}}' }])
    const index = await pool.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'events_log_type_index'`, [schema])
    expect(index.rows[0].indexdef).toContain('(log, type, index)')

    // Filters work on the old rows.
    const storage = postgresStorage({ pool, log: 'old', schema })
    await storage.open()
    expect((await readAll(storage, { types: ['bookmark'] })).map((event) => event.index)).toEqual([0, 4, 5])
    await storage.close()
  })

  it('is migrated once when several processes open it at the same moment', async () => {
    const schema = freshSchema()
    const setUp = server.pool()
    await createOldSchema(setUp, schema)
    await appendAsOldVersion(setUp, schema, 'shared', oldEvents)
    // A pool each, as separate processes would have.
    const logs = await Promise.all(
      Array.from({ length: 6 }, () => initLog<Record<string, unknown>>({ storage: postgresStorage({ pool: server.pool({ max: 2 }), log: 'shared', schema }) })),
    )
    for (const log of logs) expect(log.length).toBe(oldEvents.length)
    const stored = await Promise.all(logs.map((log, n) => log.append({ type: 'opened', n })))
    expect(stored.map((event) => event.index).sort((a, b) => a - b)).toEqual([5, 6, 7, 8, 9, 10])
    await Promise.all(logs.map((log) => log.close()))
    const { rows } = await setUp.query(`SELECT count(*)::int AS count, count(type)::int AS typed FROM ${schema}.events`)
    expect(rows[0]).toEqual({ count: 11, typed: 3 + 6 })
    const columns = await setUp.query(`SELECT count(*)::int AS count FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'events'`, [
      schema,
    ])
    expect(columns.rows[0].count).toBe(7)
  })

  it('still gets the type of events an older version appends after the migration, so filters miss none', async () => {
    const pool = server.pool()
    const schema = freshSchema()
    await createOldSchema(pool, schema)
    const storage = postgresStorage({ pool, log: 'mixed', schema })
    await storage.open()
    await storage.append(['{"type":"bookmark","n":0}'])
    // A process of the older version, still running during an upgrade.
    await appendAsOldVersion(pool, schema, 'mixed', ['{"type":"bookmark","n":1}', '{"type":"other","n":2}'])
    await storage.append(['{"type":"bookmark","n":3}'])
    expect((await readAll(storage, { types: ['bookmark'] })).map((event) => event.n)).toEqual([0, 1, 3])
    const { rows } = await pool.query(`SELECT type FROM ${schema}.events ORDER BY index`)
    expect(rows.map((row) => row.type)).toEqual(['bookmark', 'bookmark', 'other', 'bookmark'])
    await storage.close()
  })

  it('tells a role that may not alter the tables to open a log once as their owner', async () => {
    const admin = server.pool()
    const schema = freshSchema()
    await createOldSchema(admin, schema)
    const role = `tes_meta_app_${process.pid}`
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'app-password'`)
    try {
      await admin.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`)
      await admin.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA ${schema} TO ${role}`)
      const url = new URL(server.url)
      url.username = role
      url.password = 'app-password'
      const error = await initLog({ storage: postgresStorage({ pool: server.pool({ connectionString: url.toString() }), log: 'x', schema }) }).catch(
        (error: unknown) => error,
      )
      expect(error).toBeInstanceOf(TinyEventSourcingError)
      expect(error).toMatchObject({ code: 'POSTGRES_SCHEMA_OUTDATED' })
      expect((error as Error).message).toContain(`schema ${schema} were made by an earlier version`)
      expect((error as Error).message).toContain("open a log once as the tables' owner")
      // Nothing changed: the old table is as it was.
      const columns = await admin.query(`SELECT count(*)::int AS count FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'events'`, [
        schema,
      ])
      expect(columns.rows[0].count).toBe(3)
      // Once the owner has opened a log, the role works.
      await (await initLog({ storage: postgresStorage({ pool: admin, log: 'x', schema }) })).close()
      const log = await initLog({ storage: postgresStorage({ pool: server.pool({ connectionString: url.toString() }), log: 'x', schema }) })
      expect((await log.append({ type: 'as the app' })).index).toBe(0)
      await log.close()
    } finally {
      await admin.query(`DROP OWNED BY ${role}`)
      await admin.query(`DROP ROLE ${role}`)
    }
  })
})
