/**
 * The examples of docs/testing.md (examples/testing/*.test.ts) run as users
 * run them: under node:test, against the built package.
 */
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import ts from 'typescript'
import { afterAll, describe, expect, it } from 'vitest'
import { distEntry } from '../helpers/dist.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

const run = promisify(execFile)
afterAll(removeTempDirs)

const examples = new URL('../../examples/', import.meta.url)

/** The example as JavaScript importing the built package (Node 20 does not strip types). */
async function runnable(name: string): Promise<string> {
  const source = await readFile(new URL(`testing/${name}`, examples), 'utf8')
  const javascript = ts
    .transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false } })
    .outputText.replaceAll("from 'tiny-event-sourcing/testing'", `from ${JSON.stringify(new URL('testing.js', distEntry()).href)}`)
    .replaceAll("from 'tiny-event-sourcing'", `from ${JSON.stringify(distEntry())}`)
    .replaceAll("from '../bookmarks/", `from '${new URL('bookmarks/', examples).href}`)
  const file = join(await tempDir('testing-examples'), name.replace(/\.ts$/, '.mjs'))
  await writeFile(file, javascript)
  return file
}

async function nodeTest(file: string): Promise<{ passed: number; failed: number; output: string }> {
  const { stdout } = await run(process.execPath, ['--test', '--test-reporter=tap', file]).catch((error: { stdout: string }) => error)
  const count = (label: string) => Number(new RegExp(`^# ${label} (\\d+)$`, 'm').exec(stdout)?.[1] ?? Number.NaN)
  return { passed: count('pass'), failed: count('fail'), output: stdout }
}

describe('examples/testing, run with node --test', () => {
  it('bookmarks.test.ts: the reducer, upcaster and handler specs pass', async () => {
    const result = await nodeTest(await runnable('bookmarks.test.ts'))
    expect(result, result.output).toMatchObject({ passed: 4, failed: 0 })
  })

  it('bookmarks.test.ts fails, naming the event, once the reducer reads the clock', async () => {
    const file = await runnable('bookmarks.test.ts')
    const broken = (await readFile(file, 'utf8')).replace(
      /import \{ initialBookmarks, reduceBookmarks \} from '[^']+';/,
      `import { initialBookmarks, reduceBookmarks as pure } from '${new URL('bookmarks/read-model.mjs', examples).href}';
       let clock = 0
       const reduceBookmarks = (state, event) => ({ ...pure(state, event), seen: ++clock })`,
    )
    expect(broken).toContain('as pure')
    await writeFile(file, broken)
    const result = await nodeTest(file)
    expect(result.failed).toBe(2)
    expect(result.output).toContain('reduce is not deterministic: two runs over the same events gave different states after event 0 ("bookmark")')
  })

  it('my-storage.test.ts: both contract suites pass for the memory storage and backend', async () => {
    const result = await nodeTest(await runnable('my-storage.test.ts'))
    expect(result.failed, result.output).toBe(0)
    expect(result.passed).toBeGreaterThanOrEqual(20)
  })
})
