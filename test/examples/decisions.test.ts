import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import ts from 'typescript'
import { afterAll, describe, expect, it } from 'vitest'
import { distEntry } from '../helpers/dist.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { startProgram } from './helpers.js'

afterAll(removeTempDirs)

describe('examples/decisions/reserve-seat.ts', () => {
  it('reserves a seat once when two requests race for it, and another seat meanwhile, printing what its comments say', async () => {
    // Node 20 runs JavaScript: strip the types, and point the import at the built package.
    const source = await readFile(new URL('../../examples/decisions/reserve-seat.ts', import.meta.url), 'utf8')
    const javascript = ts
      .transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
      .outputText.replaceAll("from 'tiny-event-sourcing'", `from ${JSON.stringify(distEntry())}`)
    const file = join(await tempDir('decisions'), 'reserve-seat.mjs')
    await writeFile(file, javascript)
    const program = startProgram([file], {})
    expect(await program.exited).toBe(0)
    // The output the example's comments promise (`// → …`), line for line.
    const promised = [...source.matchAll(/^\/\/ → (.*)$/gm)].map((match) => match[1])
    expect(program.output().trim().split('\n')).toEqual(promised)
  })
})
