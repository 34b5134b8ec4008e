import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import ts from 'typescript'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import * as library from '../src/index.js'
import { distEntry } from './helpers/dist.js'
import { startPageServer, startProgram, unreachableUrl, type RunningProgram } from './examples/helpers.js'
import { poll } from './helpers/poll.js'
import { removeTempDirs, tempDir } from './helpers/temp-dir.js'

afterAll(removeTempDirs)

const root = new URL('../', import.meta.url)
/** The reference moved from the README to docs/api.md (the browser and PostgreSQL names are on their own pages). */
const reference = await readFile(new URL('docs/api.md', root), 'utf8')

describe('docs/api.md, the reference', () => {
  it('documents every export of the package', () => {
    const documented = (name: string) => reference.includes(`\`${name}\``) || reference.includes(`\`${name}(`)
    const missing = Object.keys(library).filter((name) => name !== 'default' && !documented(name))
    expect(missing).toEqual([])
  })

  it('documents every exported type', async () => {
    const indexSource = (await readFile(new URL('src/index.ts', root), 'utf8')) + (await readFile(new URL('src/exports.ts', root), 'utf8'))
    const types = [...indexSource.matchAll(/^export type \{([^}]+)\}/gm)].flatMap((match) => match[1]!.split(',').map((name) => name.trim()))
    expect(types.length).toBeGreaterThanOrEqual(17)
    expect(types.filter((name) => !reference.includes(`\`${name}\``) && !reference.includes(`\`${name}<`))).toEqual([])
  })

  it('has every function on the default export too', () => {
    const functions = Object.entries(library).filter(([name, value]) => typeof value === 'function' && !/Error$/.test(name))
    expect(functions.length).toBeGreaterThanOrEqual(8)
    for (const [name, value] of functions) expect(library.default[name as keyof typeof library.default], name).toBe(value)
  })

  it('lists the code of every error', async () => {
    const errorsSource = await readFile(new URL('src/core/errors.ts', root), 'utf8')
    const codes = [...errorsSource.matchAll(/(?:super\(\s*|code = )'([A-Z_]+)'/g)].map((match) => match[1]!)
    expect(codes.length).toBeGreaterThanOrEqual(9)
    expect(codes.filter((code) => !reference.includes(`\`${code}\``))).toEqual([])
  })
})

describe('the six steps, run as a program', () => {
  const running = new Set<RunningProgram>()
  afterEach(() => {
    for (const program of running) program.child.kill('SIGKILL')
    running.clear()
  })

  it('serves bookmarks with their titles and icons, and carries on after a restart', async () => {
    // Node 20 runs JavaScript: strip the types, and point the imports at the built package and the helper.
    const source = await readFile(new URL('examples/bookmarks/six-steps.ts', root), 'utf8')
    const javascript = ts
      .transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
      .outputText.replaceAll("from 'tiny-event-sourcing'", `from ${JSON.stringify(distEntry())}`)
      .replace("from './page-info.mjs'", `from ${JSON.stringify(pathToFileURL(new URL('examples/bookmarks/page-info.mjs', root).pathname).href)}`)
    expect(javascript).not.toContain("'tiny-event-sourcing'")
    const folder = await tempDir('readme')
    await writeFile(join(folder, 'six-steps.mjs'), javascript)

    const pages = await startPageServer()
    try {
      // A port that was free a moment ago (the program listens where PORT says).
      const port = new URL(await unreachableUrl()).port
      const base = `http://127.0.0.1:${port}/bookmarks`
      const start = async () => {
        const program = startProgram(['six-steps.mjs'], { cwd: folder, env: { PORT: port } })
        running.add(program)
        await poll(
          () =>
            fetch(base).then(
              (response) => response.ok,
              () => false,
            ),
          (ok) => ok,
        )
        return program
      }
      type Model = { byUrl: Record<string, { url: string; title: string; faviconUrl: string }> }
      const getModel = async () => (await (await fetch(base)).json()) as Model
      const post = (url: string) => fetch(base, { method: 'POST', body: JSON.stringify({ url }) })

      let program = await start()
      expect((await post(pages.url('/a'))).status).toBe(202)
      expect((await post(pages.url('/missing'))).status).toBe(202)
      expect((await fetch(base, { method: 'POST', body: 'nonsense' })).status).toBe(400)
      const model = await poll(getModel, (value) => Object.keys(value.byUrl).length === 1)
      expect(model).toEqual({
        byUrl: { [pages.url('/a')]: { url: pages.url('/a'), title: 'Page A & friends', faviconUrl: pages.url('/icons/a.png') } },
      })

      // The failed fetch is an event in the log, after the bookmarks.
      const types = async () =>
        (await readFile(join(folder, 'data', 'log.ndjson'), 'utf8'))
          .trim()
          .split('\n')
          .map((line) => (JSON.parse(line) as { type: string }).type)
      await poll(types, (list) => list.length === 4)
      expect((await types()).sort()).toEqual(['bookmark', 'bookmark', 'info', 'info-failed'])

      // Once the info fetcher has saved that it handled all four events, stop it.
      await poll(
        () =>
          readFile(join(folder, 'data', 'info-fetcher.json'), 'utf8').then(
            (text) => JSON.parse(text) as { _version: number },
            () => ({ _version: -1 }),
          ),
        (envelope) => envelope._version === 3,
      )
      program.child.kill('SIGTERM')
      await program.exited

      program = await start()
      expect(await getModel()).toEqual(model)
      expect((await post(pages.url('/b'))).status).toBe(202)
      await poll(getModel, (value) => Object.keys(value.byUrl).length === 2)
      expect([pages.hits.get('/a'), pages.hits.get('/missing'), pages.hits.get('/b')]).toEqual([1, 1, 1])
      expect(program.output()).toBe('') // the library is quiet
      program.child.kill('SIGTERM')
      await program.exited
    } finally {
      await pages.close()
    }
  }, 90_000)
})
