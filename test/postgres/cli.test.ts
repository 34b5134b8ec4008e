import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initLog } from '../../src/index.js'
import { postgresStorage } from '../../src/postgres/index.js'
import { run } from '../cli/run.js'
import { usePostgres } from './server.js'

const server = usePostgres()
let folder: string
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'tes-cli-postgres-'))
})
afterAll(async () => {
  await rm(folder, { recursive: true, force: true })
})

describe('tiny-event-sourcing import / export', () => {
  it('moves a log file to PostgreSQL and back, keeping every index', async () => {
    const original = join(folder, 'original.ndjson')
    const log = await initLog({ filename: original })
    for (let n = 0; n < 25; n++) await log.append({ type: n % 2 === 0 ? 'bookmark' : 'info', n })
    await log.close()

    const imported = await run(['import', original, 'from-cli', '--database', server.url])
    expect(imported).toMatchObject({ code: 0, stderr: '', stdout: `${original}: 25 events copied into the PostgreSQL log "from-cli"\n` })
    const inPostgres = await initLog({ storage: postgresStorage({ pool: server.pool(), log: 'from-cli' }) })
    expect(inPostgres.length).toBe(25)
    await inPostgres.close()

    const exported = join(folder, 'exported.ndjson')
    const result = await run(['export', 'from-cli', exported, '--database', server.url])
    expect(result).toMatchObject({ code: 0, stderr: '', stdout: `${exported}: 25 events copied from the PostgreSQL log "from-cli"\n` })
    expect(await readFile(exported, 'utf8')).toBe(await readFile(original, 'utf8'))
  })

  it('explains what is missing or in the way', async () => {
    // The bin inherits this process's environment.
    delete process.env.DATABASE_URL
    const noDatabase = await run(['import', join(folder, 'original.ndjson'), 'x'])
    expect(noDatabase.code).toBe(2)
    expect(noDatabase.stderr).toContain('which database? Give --database postgres://user:password@host:5432/db, or set DATABASE_URL')

    const missing = await run(['import', join(folder, 'nothing.ndjson'), 'x', '--database', server.url])
    expect(missing).toMatchObject({ code: 1, stdout: '' })
    expect(missing.stderr).toContain('nothing.ndjson: no such file')

    const occupied = await run(['import', join(folder, 'original.ndjson'), 'from-cli', '--database', server.url])
    expect(occupied.code).toBe(1)
    expect(occupied.stderr).toContain('already holds 25 events; copy into a new, empty log')

    const existing = await run(['export', 'from-cli', join(folder, 'original.ndjson'), '--database', server.url])
    expect(existing.code).toBe(1)
    expect(existing.stderr).toMatch(/original\.ndjson already exists \(\d+ bytes\); export into a new file/)
  })
})
