import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { initLog } from '../src/index.js'

describe('initLog with a file', () => {
  it('writes un-awaited appends in call order with contiguous indices', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tes-log-'))
    const filename = join(dir, 'nested', 'log.ndjson')
    const log = await initLog<{ type: string; n: number }>({ filename })
    const appends = Array.from({ length: 1000 }, (_, n) => log.append({ type: 'counted', n }))
    const stored = await Promise.all(appends)
    expect(stored.map((event) => event.index)).toEqual(stored.map((_, n) => n))
    await log.close()
    const lines = (await readFile(filename, 'utf8')).trimEnd().split('\n')
    expect(lines).toHaveLength(1000)
    lines.forEach((line, n) => expect(line).toBe(JSON.stringify({ type: 'counted', n, index: n })))
  })
})
