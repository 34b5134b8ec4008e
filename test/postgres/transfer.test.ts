import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CorruptLogError, initLog } from '../../src/index.js'
import { exportLog, importLog, postgresStorage } from '../../src/postgres/index.js'
import { usePostgres } from './server.js'

const server = usePostgres()
let folder: string
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'tes-transfer-'))
})
afterAll(async () => {
  await rm(folder, { recursive: true, force: true })
})

const events = [
  { type: 'bookmark', url: 'https://example.com/?q="quoted"&x=\\' },
  { type: 'info', url: 'https://example.com/', title: 'Ünïcødé 🎉', tags: ['a', 'b'], nested: { deep: [null, 1.5, true] } },
  {},
  { type: 'bookmark', url: 'https://example.org/', empty: '' },
]

async function writeFileLog(filename: string, count: number): Promise<void> {
  const log = await initLog({ filename })
  for (let n = 0; n < count; n++) await log.append(events[n % events.length]!)
  await log.close()
}

describe('importLog and exportLog', () => {
  it('moves a file log to PostgreSQL and back, keeping every index and every byte', async () => {
    const original = join(folder, 'original.ndjson')
    await writeFileLog(original, 3000)
    const pool = server.pool()
    expect(await importLog({ pool, log: 'moved', filename: original })).toBe(3000)

    const log = await initLog({ storage: postgresStorage({ pool, log: 'moved' }) })
    expect(log.length).toBe(3000)
    const first = await log.events().next()
    expect(first.value).toEqual({ ...events[0], index: 0, _meta: { at: expect.any(String) } })
    // The times came along, into the at column too.
    const { rows } = await pool.query(`SELECT at, event->'_meta'->>'at' AS meta_at FROM tiny_event_sourcing.events WHERE log = 'moved' AND index < 10`)
    for (const row of rows) expect((row.at as Date).toISOString()).toBe(row.meta_at)
    // The log goes on in PostgreSQL where the file stopped.
    expect(await log.append({ type: 'after the move' })).toMatchObject({ type: 'after the move', index: 3000 })
    await log.close()

    const exported = join(folder, 'exported.ndjson')
    expect(await exportLog({ pool, log: 'moved', filename: exported })).toBe(3001)
    const originalText = await readFile(original, 'utf8')
    const exportedText = await readFile(exported, 'utf8')
    expect(exportedText.slice(0, originalText.length)).toBe(originalText)
    expect(exportedText.slice(originalText.length)).toMatch(/^\{"type":"after the move","_meta":\{"at":"[^"]+"\},"index":3000\}\n$/)
  })

  it('refuses to import into a PostgreSQL log that already holds events, copying nothing', async () => {
    const pool = server.pool()
    const source = join(folder, 'source.ndjson')
    await writeFileLog(source, 5)
    const log = await initLog({ storage: postgresStorage({ pool, log: 'occupied' }) })
    await log.append({ type: 'already here' })
    await log.close()
    await expect(importLog({ pool, log: 'occupied', filename: source })).rejects.toThrow(
      /PostgreSQL log "occupied" .* already holds 1 events; copy into a new, empty log/,
    )
    const { rows } = await pool.query(`SELECT count(*)::int AS count FROM tiny_event_sourcing.events WHERE log = 'occupied'`)
    expect(rows[0].count).toBe(1)
  })

  it('refuses to export over a file that exists, leaving it alone', async () => {
    const pool = server.pool()
    const log = await initLog({ storage: postgresStorage({ pool, log: 'to-export' }) })
    await log.append({ type: 'x' })
    await log.close()
    const existing = join(folder, 'existing.ndjson')
    await writeFile(existing, 'precious\n')
    await expect(exportLog({ pool, log: 'to-export', filename: existing })).rejects.toThrow(
      /existing\.ndjson already exists \(9 bytes\); export into a new file/,
    )
    expect(await readFile(existing, 'utf8')).toBe('precious\n')
  })

  it('reports a damaged file before importing anything from it', async () => {
    const pool = server.pool()
    const damaged = join(folder, 'damaged.ndjson')
    await writeFileLog(damaged, 10)
    const lines = (await readFile(damaged, 'utf8')).split('\n')
    lines[6] = '{"type":"broken", "index": 6'
    await writeFile(damaged, lines.join('\n'))
    const error = await importLog({ pool, log: 'from-damaged', filename: damaged }).catch((error: unknown) => error)
    expect(error).toBeInstanceOf(CorruptLogError)
    expect((error as Error).message).toContain(`${damaged}:7`)
    const { rows } = await pool.query(`SELECT count(*)::int AS count FROM tiny_event_sourcing.events WHERE log = 'from-damaged'`)
    expect(rows[0].count).toBe(0)
  })

  it('names a missing file and explains a missing filename', async () => {
    const pool = server.pool()
    const missing = join(folder, 'missing.ndjson')
    await expect(importLog({ pool, log: 'nothing', filename: missing })).rejects.toThrow(`cannot import ${missing}: the file does not exist`)
    await expect(exportLog({ pool, log: 'nothing' } as never)).rejects.toThrow(/exportLog\(\) needs \{ filename: "path\/to\/log.ndjson" \}/)
  })
})
