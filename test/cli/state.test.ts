import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fsStoreBackend, initStateStore } from '../../src/index.js'
import { removeTempDirs, run, tempDir, writeLog } from './run.js'

const readModel = {
  byUrl: {
    'https://example.com': { url: 'https://example.com', title: 'Example Domain' },
    'https://nodejs.org': { url: 'https://nodejs.org', title: 'Node.js' },
  },
  urls: ['https://example.com', 'https://nodejs.org'],
  lastTitle: 'Node.js',
  count: 2,
}

async function stateFile(envelope: unknown): Promise<{ dir: string; filename: string }> {
  const dir = await tempDir()
  const filename = join(dir, 'read-model.json')
  await writeFile(filename, typeof envelope === 'string' ? envelope : JSON.stringify(envelope))
  return { dir, filename }
}

afterAll(removeTempDirs)

describe('tiny-event-sourcing state', () => {
  it('shows the version and the shape of the state', async () => {
    const { filename } = await stateFile({ _version: 41, state: readModel })
    const result = await run(['state', filename])
    expect(result).toMatchObject({ code: 0, stderr: '' })
    const info = await stat(filename)
    expect(result.stdout).toBe(
      `${filename}: version 41, ${info.size} B, written ${info.mtime.toISOString()}\n` +
        'The state reflects events 0–41 of its log.\n' +
        'state: an object with 4 keys\n' +
        '  key        holds\n' +
        '  byUrl      an object with 2 keys\n' +
        '  urls       an array of 2 items\n' +
        '  lastTitle  "Node.js"\n' +
        '  count      2\n',
    )
  })

  it('reads a file a state store wrote', async () => {
    const filename = join(await tempDir(), 'nested', 'bookmarks.json')
    const store = await initStateStore({ storeBackend: fsStoreBackend(filename, { byUrl: {} as Record<string, string> }) })
    store.update({ byUrl: { 'https://example.com': 'Example Domain' } }, 6)
    await store.close()
    const result = await run(['state', filename])
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toContain(`${filename}: version 6, `)
    expect(result.stdout).toContain('state: an object with 1 key\n  key    holds\n  byUrl  an object with 1 key\n')
    expect(JSON.parse((await run(['state', filename, '--full'])).stdout)).toEqual({ byUrl: { 'https://example.com': 'Example Domain' } })
  })

  it('says how far behind the log the state is with --log', async () => {
    const { dir, filename } = await stateFile({ _version: 2, state: {} })
    const log = join(dir, 'log.ndjson')
    await writeLog(
      log,
      Array.from({ length: 10 }, (_, n) => ({ type: 'counted', n })),
    )
    const behind = await run(['state', filename, '--log', log])
    expect(behind.stdout).toContain(`${log} holds 10 events: the state is 7 events behind`)
    await writeFile(filename, JSON.stringify({ _version: 9, state: {} }))
    expect((await run(['state', filename, '-l', log])).stdout).toContain(`${log} holds 10 events: the state is up to date.`)
    await writeFile(filename, JSON.stringify({ _version: 20, state: {} }))
    expect((await run(['state', filename, '-l', log])).stdout).toContain('holds only 10 events, but the state reflects events up to 20')
  })

  it('prints the whole state with --full', async () => {
    const { filename } = await stateFile({ _version: 41, state: readModel })
    const result = await run(['state', filename, '--full'])
    expect(JSON.parse(result.stdout)).toEqual(readModel)
  })

  it('names the projection version that built the state', async () => {
    const { filename } = await stateFile({ _version: 5, _projection: 'v2', state: {} })
    expect((await run(['state', filename])).stdout).toContain('Built by version "v2" of its projection (project({ version })).\n')
  })

  it('describes a new store at version -1', async () => {
    const { filename } = await stateFile({ _version: -1, state: null })
    const result = await run(['state', filename])
    expect(result.stdout).toContain('version -1')
    expect(result.stdout).toContain('No event processed yet.\nstate: null\n')
  })

  it('names the file and what is wrong when it is not a state envelope', async () => {
    const broken = await stateFile('{"_version": 3, "state": {')
    const notJson = await run(['state', broken.filename])
    expect(notJson.code).toBe(1)
    expect(notJson.stderr).toContain(`${broken.filename}: is not valid JSON (`)
    expect(notJson.stderr).toContain('. Left as it is: fix it, or delete it')
    const other = await stateFile({ version: 3, data: {} })
    const notEnvelope = await run(['state', other.filename])
    expect(notEnvelope.code).toBe(1)
    expect(notEnvelope.stderr).toContain(`${other.filename}: "_version" is missing, where an integer of -1 or more was expected`)
    expect(await readFile(other.filename, 'utf8')).toBe('{"version":3,"data":{}}')
  })

  it('says so when given a log instead of a state file, without the advice to delete it', async () => {
    const dir = await tempDir()
    const log = join(dir, 'log.ndjson')
    const lines = await writeLog(log, [
      { type: 'bookmark', url: 'https://example.com' },
      { type: 'bookmark', url: 'https://nodejs.org' },
    ])
    const result = await run(['state', log])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`${log} looks like an event log`)
    expect(result.stderr).toContain(`To look inside the log, run \`tiny-event-sourcing cat ${log}\``)
    expect(result.stderr).not.toContain('delete')
    expect(await readFile(log, 'utf8')).toBe(lines.map((line) => `${line}\n`).join(''))
  })
})
