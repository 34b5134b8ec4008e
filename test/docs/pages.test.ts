/**
 * Every page of the documentation — README.md and docs/*.md — checked the same
 * way: its code is the code of files the tests type-check and run, its JSON
 * parses, its shell lines name real commands, its links lead somewhere, and a
 * long page starts with a table of contents.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize as normalizePath } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { denoPermissions } from '../runtimes/deno-permissions.js'
import { at, codeBlocks, headings, links, normalize, pages, root } from './markdown.js'

const all = pages()
const blocks = all.flatMap(codeBlocks)
const rootPath = fileURLToPath(root)
const programLanguages = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs', 'tsx'])
/** The pages whose console sessions test/cli/readme.test.ts re-runs. */
const rerunPages = ['docs/cli.md', 'docs/upcasting.md']
/** More lines than this is more than two screens: the page needs a table of contents. */
const twoScreens = 100

describe('the documentation pages', () => {
  it('are the README and the pages under docs/', () => {
    expect(all.map((page) => page.path)).toEqual(expect.arrayContaining(['README.md', 'docs/api.md', 'docs/guarantees.md']))
  })

  it('README.md fits in 300 lines and links every page under docs/', () => {
    const readme = all.find((page) => page.path === 'README.md')!
    expect(readme.text.trimEnd().split('\n').length, 'README.md is the front door: move detail to a page under docs/').toBeLessThanOrEqual(300)
    const linked = new Set(links(readme).map((link) => link.target.replace(/#.*/, '')))
    const docs = all.filter((page) => page.path.startsWith('docs/')).map((page) => page.path)
    expect(
      docs.filter((path) => !linked.has(path)),
      'add these pages to the "What else" list of README.md',
    ).toEqual([])
  })

  for (const page of all) {
    const lines = page.text.trimEnd().split('\n').length
    if (lines <= twoScreens) continue
    it(`${page.path} (${lines} lines) starts with a table of contents of its sections`, () => {
      const sections = headings(page).filter((heading) => heading.level === 2 && heading.title !== 'Contents')
      const contents = page.text.indexOf('\n## Contents\n')
      expect(contents, `${page.path} is longer than two screens: add a "## Contents" list after its first paragraph`).toBeGreaterThan(-1)
      expect(contents, '"## Contents" comes before the first section').toBeLessThan(page.text.indexOf(`\n## ${sections[0]!.title}\n`))
      const listed = new Set(
        links(page)
          .filter((link) => link.target.startsWith('#'))
          .map((link) => link.target.slice(1)),
      )
      expect(
        sections.filter((heading) => !listed.has(heading.anchor)).map((heading) => heading.title),
        `sections missing from the contents of ${page.path}`,
      ).toEqual([])
    })
  }
})

describe('links in the documentation', () => {
  const anchors = new Map(all.map((page) => [page.path, new Set(headings(page).map((heading) => heading.anchor))]))
  for (const page of all) {
    const local = links(page).filter((link) => !/^[a-z]+:/.test(link.target))
    if (local.length === 0) continue
    it(`${page.path}: every link to a file of the repository or a section leads to one`, () => {
      const broken: string[] = []
      for (const link of local) {
        const [file, anchor] = link.target.split('#') as [string, string | undefined]
        const target = file === '' ? page.path : normalizePath(join(dirname(page.path), file))
        if (target.startsWith('..') || !existsSync(join(rootPath, target))) {
          broken.push(`${page.path}:${link.line}: ${link.target} (no file ${target})`)
        } else if (anchor !== undefined) {
          const known = anchors.get(target)
          if (known === undefined) broken.push(`${page.path}:${link.line}: ${link.target} (${target} is not a documentation page)`)
          else if (!known.has(anchor)) broken.push(`${page.path}:${link.line}: ${link.target} (no section #${anchor} in ${target})`)
        }
      }
      expect(broken, 'fix these links: a file moved or a heading changed').toEqual([])
    })
  }
})

describe('code in the documentation', () => {
  it('is in languages these tests check', () => {
    const known = new Set([...programLanguages, 'json', 'console', 'sh', 'html', 'sql'])
    expect(
      blocks.filter((block) => !known.has(block.language)).map((block) => `${at(block)} (${block.language || 'no language'})`),
      'give each code block a language this test checks (ts, js, json, console, sh, html, sql), and check it',
    ).toEqual([])
  })

  it('is all copied from files under examples/, which tsc checks (npm run typecheck)', () => {
    const loose = blocks.filter((block) => programLanguages.has(block.language) && block.example === undefined)
    expect(
      loose.map(at),
      'wrap these code blocks in <!-- example: examples/…/file.ts --> … <!-- /example --> (the blocks are the whole file) ' +
        'or <!-- excerpt: examples/…/file.ts --> … <!-- /excerpt --> (each block is in the file), and keep them identical to it',
    ).toEqual([])
  })

  const examples = [...new Set(blocks.flatMap((block) => (block.kind === 'example' ? [`${block.page} ${block.example!}`] : [])))]
  it('has the six steps in README.md as examples/bookmarks/six-steps.ts', () => {
    expect(examples).toContain('README.md examples/bookmarks/six-steps.ts')
  })

  for (const pair of examples) {
    const [path, example] = pair.split(' ') as [string, string]
    it(`${path} shows ${example} exactly, in order`, () => {
      const file = readFileSync(new URL(example, root), 'utf8')
      const shown = blocks
        .filter((block) => block.page === path && block.kind === 'example' && block.example === example)
        .map((block) => block.code)
        .join('\n\n')
      expect(normalize(shown), `${path}'s blocks for ${example} and the file differ: change both together`).toBe(normalize(file))
    })
  }

  for (const block of blocks.filter((candidate) => candidate.kind === 'excerpt')) {
    it(`has the code at ${at(block)} in ${block.example}`, () => {
      const file = readFileSync(new URL(block.example!, root), 'utf8')
      expect(normalize(file).includes(normalize(block.code)), `${at(block)} is not in ${block.example}: change both together`).toBe(true)
    })
  }

  it('has JSON examples that parse, one value a line as the files hold them', () => {
    const json = blocks.filter((block) => block.language === 'json')
    expect(json.length).toBeGreaterThanOrEqual(2)
    for (const block of json) for (const line of block.code.split('\n')) expect(() => JSON.parse(line), at(block)).not.toThrow()
  })

  it('has console sessions only where test/cli/readme.test.ts re-runs them', () => {
    const sessions = blocks.filter((block) => block.language === 'console')
    expect(sessions.length).toBeGreaterThanOrEqual(6)
    expect(
      sessions.filter((block) => !rerunPages.includes(block.page)).map(at),
      `these console sessions are not re-run: move them to ${rerunPages.join(' or ')}, or teach test/cli/readme.test.ts their page`,
    ).toEqual([])
  })

  it('has shell lines that run the package’s real commands and scripts', () => {
    const help = execFileSync(process.execPath, [join(rootPath, 'dist', 'cli.js'), '--help'], { encoding: 'utf8' })
    const commands = new Set([...help.matchAll(/^ {2}(\w+) {2,}/gm)].map((match) => match[1]!))
    expect(commands).toContain('cat')
    const scripts = Object.keys((JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts)
    const wrong: string[] = []
    for (const block of blocks.filter((candidate) => candidate.language === 'sh')) {
      for (const line of block.code.split('\n')) {
        const command = line.replace(/#.*/, '').trim()
        if (command === '') continue
        const cli = /^npx tiny-event-sourcing (\S+)/.exec(command)
        const npm = /^(?:\w+=\S+ )*npm (?:run )?(\S+)/.exec(command)
        if (cli) {
          if (!commands.has(cli[1]!) && cli[1] !== '--help' && cli[1] !== '<command>') wrong.push(`${at(block)}: ${command} (no command ${cli[1]})`)
        } else if (npm) {
          if (!['install', 'ci'].includes(npm[1]!) && !scripts.includes(npm[1]!)) wrong.push(`${at(block)}: ${command} (no script ${npm[1]} in package.json)`)
        } else if (command.startsWith('deno run ')) {
          const flags = command.split(' ').filter((word) => word.startsWith('--'))
          if (flags.join(' ') !== denoPermissions.join(' ')) wrong.push(`${at(block)}: ${command} (the flow runs Deno with ${denoPermissions.join(' ')})`)
        } else if (!/^(curl|jq|mv) /.test(command)) {
          wrong.push(`${at(block)}: ${command} (a command this test does not know)`)
        }
      }
    }
    expect(wrong, 'fix these shell lines, or teach this test the command').toEqual([])
  })

  it('shows the PostgreSQL tables exactly as the library creates them', () => {
    const sources = (function read(dir: string): string[] {
      return readdirSync(dir).flatMap((name) => {
        const path = join(dir, name)
        return statSync(path).isDirectory() ? read(path) : name.endsWith('.ts') ? [readFileSync(path, 'utf8')] : []
      })
    })(join(rootPath, 'src')).join('\n')
    const created = [...sources.matchAll(/CREATE TABLE IF NOT EXISTS \$\{schema\}(\.[^`]+)`/g)].map(
      (match) => `CREATE TABLE tiny_event_sourcing${match[1]!.trim()};`,
    )
    const shown = blocks.filter((block) => block.language === 'sql').flatMap((block) => block.code.split('\n').filter((line) => line.trim() !== ''))
    expect(shown.length).toBeGreaterThanOrEqual(3)
    expect(shown.sort()).toEqual(created.sort())
  })

  it('imports the browser build from each CDN, by names it exports', async () => {
    const browser = (await import(join(rootPath, 'dist', 'browser.js'))) as Record<string, unknown>
    const html = blocks.filter((block) => block.language === 'html')
    expect(html.length).toBeGreaterThanOrEqual(1)
    for (const block of html) {
      const imports = [...block.code.matchAll(/import tinyEventSourcing from '([^']+)'/g)].map((match) => match[1]!)
      expect(
        imports.map((url) => new URL(url).host),
        at(block),
      ).toEqual(['esm.sh', 'cdn.jsdelivr.net', 'cdn.skypack.dev'])
      for (const url of imports) expect(url, at(block)).toMatch(/\/tiny-event-sourcing@1(\/\+esm)?$/)
      const names =
        /const \{([^}]+)\} = tinyEventSourcing/
          .exec(block.code)?.[1]
          ?.split(',')
          .map((name) => name.trim()) ?? []
      for (const name of names) expect(typeof browser[name], `${at(block)}: ${name} is not a function of the browser build`).toBe('function')
      for (const name of names)
        expect((browser.default as Record<string, unknown>)[name], `${at(block)}: ${name} is not on the default export`).toBe(browser[name])
    }
  })
})
