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
const readme = await readFile(new URL('README.md', root), 'utf8')

interface CodeBlock {
  language: string
  code: string
  line: number
  /** The file the block comes from, from the region around it: `<!-- example: path -->` or `<!-- excerpt: path -->`. */
  example: string | undefined
  /** `example`: the region's blocks together are the whole file. `excerpt`: each block appears in the file. */
  kind: 'example' | 'excerpt' | undefined
}

/** The fenced code blocks of the README, each with the example region it sits in. */
function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = []
  const lines = markdown.split('\n')
  let example: string | undefined
  let kind: CodeBlock['kind']
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const region = /^<!-- (example|excerpt): (\S+) -->$/.exec(line.trim())
    if (region) {
      kind = region[1] as CodeBlock['kind']
      example = region[2]
    } else if (/^<!-- \/(example|excerpt) -->$/.test(line.trim())) {
      kind = undefined
      example = undefined
    }
    const fence = /^(`{3,})(\w*)/.exec(line)
    if (!fence) continue
    const start = i
    const code: string[] = []
    for (i++; i < lines.length && !lines[i]!.startsWith(fence[1]!); i++) code.push(lines[i]!)
    blocks.push({ language: fence[2]!, code: code.join('\n'), line: start + 1, example, kind })
  }
  return blocks
}

const normalize = (code: string) =>
  code
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()

const blocks = codeBlocks(readme)
const programLanguages = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs', 'tsx'])

describe('README.md code', () => {
  it('is all copied from files under examples/, which tsc checks (npm run typecheck)', () => {
    const loose = blocks.filter((block) => programLanguages.has(block.language) && block.example === undefined)
    expect(
      loose.map((block) => `README.md:${block.line}`),
      'wrap these code blocks in <!-- example: examples/…/file.ts --> … <!-- /example --> (the blocks are the whole file) ' +
        'or <!-- excerpt: examples/…/file.ts --> … <!-- /excerpt --> (each block is in the file), and keep them identical to it',
    ).toEqual([])
  })

  it('has JSON examples that parse, one value a line as the files hold them', () => {
    const json = blocks.filter((block) => block.language === 'json')
    expect(json.length).toBeGreaterThanOrEqual(2)
    for (const block of json) for (const line of block.code.split('\n')) expect(() => JSON.parse(line), `README.md:${block.line}`).not.toThrow()
  })

  const examples = [...new Set(blocks.flatMap((block) => (block.kind === 'example' ? [block.example!] : [])))]
  it('has the six steps as examples/bookmarks/six-steps.ts', () => {
    expect(examples).toContain('examples/bookmarks/six-steps.ts')
  })

  for (const example of examples) {
    it(`shows ${example} exactly, in order`, async () => {
      const file = await readFile(new URL(example, root), 'utf8')
      const shown = blocks
        .filter((block) => block.kind === 'example' && block.example === example)
        .map((block) => block.code)
        .join('\n\n')
      expect(normalize(shown), `README.md's blocks for ${example} and the file differ: change both together`).toBe(normalize(file))
    })
  }

  for (const block of blocks.filter((candidate) => candidate.kind === 'excerpt')) {
    it(`has the code at README.md:${block.line} in ${block.example}`, async () => {
      const file = await readFile(new URL(block.example!, root), 'utf8')
      expect(normalize(file).includes(normalize(block.code)), `README.md:${block.line} is not in ${block.example}: change both together`).toBe(true)
    })
  }
})

describe('README.md reference', () => {
  it('documents every export of the package', () => {
    const documented = (name: string) => readme.includes(`\`${name}\``) || readme.includes(`\`${name}(`)
    const missing = Object.keys(library).filter((name) => name !== 'default' && !documented(name))
    expect(missing).toEqual([])
  })

  it('documents every exported type', async () => {
    const indexSource = (await readFile(new URL('src/index.ts', root), 'utf8')) + (await readFile(new URL('src/exports.ts', root), 'utf8'))
    const types = [...indexSource.matchAll(/^export type \{([^}]+)\}/gm)].flatMap((match) => match[1]!.split(',').map((name) => name.trim()))
    expect(types.length).toBeGreaterThanOrEqual(17)
    expect(types.filter((name) => !readme.includes(`\`${name}\``) && !readme.includes(`\`${name}<`))).toEqual([])
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
    expect(codes.filter((code) => !readme.includes(`\`${code}\``))).toEqual([])
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
