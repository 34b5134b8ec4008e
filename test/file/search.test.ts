import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { initLog } from '../../src/index.js'

// events({ after }) finds its start by binary search on the indices in the
// file; lines of very different lengths and blank lines must not mislead it.
describe('fileStorage: events({ after }) on a log with lines of any length', () => {
  it('starts at event after + 1 whatever lines surround it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tes-search-'))
    let round = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(0, 50, 150, 20_000, 150_000), { minLength: 1, maxLength: 400 }),
        fc.array(fc.boolean(), { maxLength: 400 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
        async (padding, blankBefore, starts) => {
          const lines = padding.map((size, index) => `${blankBefore[index] ? '\n  \n' : ''}${JSON.stringify({ pad: 'x'.repeat(size), index })}\n`)
          const filename = join(dir, `log-${round++}.ndjson`)
          await writeFile(filename, lines.join(''))
          const log = await initLog<{ pad: string }>({ filename, readOnly: true })
          try {
            for (const start of starts) {
              const after = (start % padding.length) - 1
              const iterator = log.events({ after })
              const first = await iterator.next()
              await iterator.return?.()
              expect(first.value?.index).toBe(after + 1)
            }
          } finally {
            await log.close()
          }
        },
      ),
      { numRuns: 40 },
    )
  })
})
