import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CorruptStateError, fsStoreBackend, initLog, initStateStore, project, type Indexed, type Log, type StateStoreBackend } from '../../src/index.js'
import { importLog, postgresStorage, postgresStoreBackend } from '../../src/postgres/index.js'
import { describeStateStoreBackend } from '../../src/testing/index.js'
import { usePostgres } from './server.js'

const server = usePostgres()
let placeCount = 0

/** The row name of each backend the contract suite made. */
const placeNames = new WeakMap<object, string>()

describeStateStoreBackend(
  'postgresStoreBackend',
  {
    create(initialState) {
      const name = `contract-${++placeCount}`
      const backend = postgresStoreBackend({ pool: server.pool({ max: 2 }), name, initialState })
      placeNames.set(backend, name)
      return backend
    },
    reopen(previous, initialState) {
      const name = placeNames.get(previous)!
      const backend = postgresStoreBackend({ pool: server.pool({ max: 2 }), name, initialState })
      placeNames.set(backend, name)
      return backend
    },
  },
  { describe, it },
)

describe('postgresStoreBackend', () => {
  it('keeps the file envelope in one row, replaced by one statement', async () => {
    const pool = server.pool()
    const backend = postgresStoreBackend({ pool, name: 'bookmarks', initialState: { byUrl: {} } })
    expect(backend.name).toBe('PostgreSQL state "bookmarks" (tiny_event_sourcing.states)')
    await backend.write({ _version: 3, state: { byUrl: { a: 1 } } })
    await backend.write({ _version: 5, _projection: 'v2', state: { byUrl: { a: 2 } } })
    const { rows } = await pool.query(`SELECT envelope::text FROM tiny_event_sourcing.states WHERE name = 'bookmarks'`)
    expect(rows).toEqual([{ envelope: '{"_version":5,"_projection":"v2","state":{"byUrl":{"a":2}}}' }])
  })

  it('reports a row that is not an envelope, naming it, and leaves it as it is', async () => {
    const pool = server.pool()
    await pool.query(`INSERT INTO tiny_event_sourcing.states (name, envelope) VALUES ('broken', '{"state": 1}')`)
    const backend = postgresStoreBackend({ pool, name: 'broken' })
    const error = await backend.read().catch((error: unknown) => error)
    expect(error).toBeInstanceOf(CorruptStateError)
    expect((error as Error).message).toContain('PostgreSQL state "broken"')
    expect((error as Error).message).toContain('"_version" is missing')
    const { rows } = await pool.query(`SELECT envelope::text FROM tiny_event_sourcing.states WHERE name = 'broken'`)
    expect(rows).toEqual([{ envelope: '{"state": 1}' }])
  })

  it('explains bad options', () => {
    expect(() => postgresStoreBackend({ pool: server.pool(), name: '' })).toThrow(/needs \{ name: "read-model name" \}, got ""/)
    expect(() => postgresStoreBackend({ name: 'x' })).toThrow(/needs exactly one of \{ pool \}/)
  })
})

// The README's "When your prototype grows up": the same subscriber code, on a file log and then on PostgreSQL.
type BookmarkEvent = { type: 'bookmark'; url: string } | { type: 'info'; url: string; title: string }
type Bookmarks = { byUrl: Record<string, { url: string; title?: string }> }

function bookmarks(state: Bookmarks, event: Indexed<BookmarkEvent>): Bookmarks {
  if (event.type === 'bookmark') return { byUrl: { ...state.byUrl, [event.url]: { url: event.url } } }
  return { byUrl: { ...state.byUrl, [event.url]: { url: event.url, title: event.title } } }
}

/** The application: unchanged whatever the log and the store are kept in. */
async function runApp(log: Log<BookmarkEvent>, storeBackend: StateStoreBackend<Bookmarks>, append: BookmarkEvent[]) {
  const store = await initStateStore({ storeBackend })
  const controller = new AbortController()
  const projecting = project({ log, store, reduce: bookmarks, signal: controller.signal })
  for (const event of append) await log.append(event)
  while (store.getVersion() < log.length - 1) await new Promise((resolve) => setTimeout(resolve, 5))
  controller.abort()
  await projecting
  await store.close()
  return store.getState()
}

describe('moving a prototype from files to PostgreSQL', () => {
  it('runs the same subscriber code on the moved log, which goes on from where the file stopped', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'tes-grow-up-'))
    try {
      const filename = join(folder, 'log.ndjson')
      const fileLog = await initLog<BookmarkEvent>({ filename })
      const before = await runApp(fileLog, fsStoreBackend(join(folder, 'bookmarks.json'), { byUrl: {} }), [
        { type: 'bookmark', url: 'https://a.example' },
        { type: 'info', url: 'https://a.example', title: 'A' },
      ])
      await fileLog.close()
      expect(before).toEqual({ byUrl: { 'https://a.example': { url: 'https://a.example', title: 'A' } } })

      const pool = server.pool()
      expect(await importLog({ pool, log: 'bookmarks', filename })).toBe(2)
      const log = await initLog<BookmarkEvent>({ storage: postgresStorage({ pool, log: 'bookmarks' }) })
      const after = await runApp(log, postgresStoreBackend({ pool, name: 'bookmarks', initialState: { byUrl: {} } }), [
        { type: 'bookmark', url: 'https://b.example' },
      ])
      await log.close()
      expect(after).toEqual({
        byUrl: { 'https://a.example': { url: 'https://a.example', title: 'A' }, 'https://b.example': { url: 'https://b.example' } },
      })
      const { rows } = await pool.query(`SELECT (envelope->>'_version')::int AS version FROM tiny_event_sourcing.states WHERE name = 'bookmarks'`)
      expect(rows).toEqual([{ version: 2 }])
    } finally {
      await rm(folder, { recursive: true, force: true })
    }
  })

  it('ends on close() a pool it made from a connection string, and leaves a pool of yours open', async () => {
    const name = `close-${++placeCount}`
    const observer = server.pool()
    const connections = async () =>
      (await observer.query(`SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1`, [name])).rows[0].count as number
    const url = new URL(server.url)
    url.searchParams.set('application_name', name)
    const own = postgresStoreBackend({ connectionString: url.toString(), name })
    expect(await own.read()).toBeNull()
    expect(await connections()).toBeGreaterThan(0)
    await own.close!()
    const deadline = Date.now() + 10_000
    while ((await connections()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(await connections()).toBe(0)

    const pool = server.pool()
    const yours = postgresStoreBackend({ pool, name })
    expect(await yours.read()).toBeNull()
    await yours.close!()
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })
})

describe('postgresStoreBackend close()', () => {
  it('ends the pool it made from a connection string when its store closes, and leaves a pool of yours open', async () => {
    const observer = server.pool({ max: 1 })
    const connections = async (application: string) =>
      Number((await observer.query('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [application])).rows[0].n)
    const url = new URL(server.url)
    url.searchParams.set('application_name', 'tes-store-close')
    const own = await initStateStore({ storeBackend: postgresStoreBackend({ connectionString: url.href, name: 'closing', initialState: { n: 0 } }) })
    own.update({ n: 1 }, 0)
    await own.flush()
    expect(await connections('tes-store-close')).toBeGreaterThan(0)
    await own.close()
    expect(await connections('tes-store-close')).toBe(0)

    const yours = server.pool({ max: 1 })
    const store = await initStateStore({ storeBackend: postgresStoreBackend({ pool: yours, name: 'closing', initialState: { n: 0 } }) })
    expect(store.getState()).toEqual({ n: 1 })
    await store.close()
    expect((await yours.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    await yours.end()
    await observer.end()
  })
})
