/**
 * The browser bundle as a CDN serves it: self-contained (no imports at all,
 * so no `node:` modules and no dependencies) and small. Its size is measured
 * here and printed on every run; it is a property of the build, not a speed.
 */
import { readFileSync } from 'node:fs'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import * as acorn from 'acorn'
import { transform } from 'esbuild'
import { describe, expect, it } from 'vitest'
import * as browserBuild from '../../src/browser.js'
import * as nodeBuild from '../../src/index.js'
import { browserBundle } from './harness.js'

/** What only the Node build has: it needs a file system. */
const nodeOnly = ['fileStorage']
/** What only the browser build has. */
const browserOnly = ['indexedDbStorage', 'indexedDbStoreBackend']

describe('the browser entry', () => {
  it('exports the same names as the Node entry, but for the file-system ones', () => {
    const expected = Object.keys(nodeBuild).filter((name) => !nodeOnly.includes(name))
    expect(Object.keys(browserBuild).sort(), 'export it from src/browser.ts as well (or list it in nodeOnly here when it needs a file system)').toEqual(
      [...expected, ...browserOnly].sort(),
    )
  })

  it('puts the same functions on its default export', () => {
    const expected = Object.keys(nodeBuild.default).filter((name) => !nodeOnly.includes(name))
    expect(Object.keys(browserBuild.default).sort(), 'add it to the default export object of src/browser.ts as well').toEqual(
      [...expected, 'indexedDbStorage'].sort(),
    )
  })
})

/**
 * The ceiling, minified and gzipped. The 6 kB target of issue 4 is withdrawn
 * (issue 17): messages that name the value at fault and say what to do are
 * worth more than a few hundred bytes. Raised from 7.5 kB to 13.5 kB for what
 * this round's issues asked of the page too (13,186 B when raised): event
 * metadata and causation, filtered reads, appendAll and conditional appends,
 * an IndexedDB that survives another tab's upgrade and migrates in place,
 * saves sliced so a big read model never freezes the page, and a code on
 * every error. The ceiling keeps the figure from creeping up unnoticed; both
 * compressed figures are printed on every run.
 */
const ceilingBytes = 13_824

function bundleText(): string {
  try {
    return readFileSync(browserBundle, 'utf8')
  } catch (error) {
    throw new Error(`${browserBundle} is missing: run \`npm run build\` first (npm test does)`, { cause: error })
  }
}

/** The bundle minified as a CDN would serve it. */
async function minifiedBundle(): Promise<string> {
  return (await transform(bundleText(), { minify: true, format: 'esm', target: 'es2020' })).code
}

describe('dist/browser.js', () => {
  it('imports nothing: no node: modules, no dependencies', () => {
    const text = bundleText()
    expect(text).not.toMatch(/\bfrom\s*["']/)
    expect(text).not.toMatch(/\bimport\s*\(/)
    expect(text).not.toMatch(/\brequire\s*\(/)
    expect(text).not.toContain('node:')
    expect(text).not.toMatch(/\bprocess\.\w|\bBuffer\.\w/)
  })

  it('keeps the name of every error class once minified, as a CDN serves it', async () => {
    const code = await minifiedBundle()
    const minified = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as Record<string, unknown>
    const errorClasses = Object.entries(minified).filter(
      ([name, value]) => typeof value === 'function' && value.prototype instanceof Error && name !== 'TinyEventSourcingError',
    ) as [string, new (...args: unknown[]) => Error][]
    expect(errorClasses.map(([name]) => name)).toContain('LogClosedError')
    for (const [name, ErrorClass] of errorClasses) {
      expect(new ErrorClass('a', 1, 2, 3).name, `${name} is renamed by a minifier: give it a name field`).toBe(name)
    }
  })

  it('saves state stores on pagehide, and knows nothing of Node’s process', async () => {
    const code = await minifiedBundle()
    expect(code).toContain('pagehide')
    const nodeOnlyCode = /\bprocess\b/.exec(code)?.[0]
    expect(nodeOnlyCode, 'keep Node-only code in src/file/ (nodeEnvironment), out of src/core/ and src/indexeddb/').toBeUndefined()
  })

  it(`stays under ${ceilingBytes} B minified and gzipped (the figures are printed)`, async () => {
    const code = await minifiedBundle()
    const gzipped = gzipSync(code, { level: 9 }).length
    const brotli = brotliCompressSync(code).length
    console.log(`dist/browser.js: ${code.length} B minified, ${gzipped} B min+gzip, ${brotli} B min+brotli (ceiling ${ceilingBytes} B min+gzip)`)
    expect(gzipped, 'the browser build grew past its ceiling: find what grew (esbuild --metafile) before raising it').toBeLessThanOrEqual(ceilingBytes)
  })
})

/** Parses `code` as an ES2020 module, as a CDN or bundler with an ES2020 parser does; throws on newer syntax, naming where. */
function parseAsEs2020(code: string): void {
  acorn.parse(code, { ecmaVersion: 2020, sourceType: 'module' })
}

describe('dist/browser.js syntax', () => {
  it('parses as ES2020, so CDNs and bundlers with older parsers accept it', () => {
    expect(() => parseAsEs2020(bundleText()), 'build the browser file with target es2020 (tsup.config.ts)').not.toThrow()
  })

  it.each([
    ['class fields', 'class A { x = 1 }'],
    ['static class fields', 'class A { static x = 1 }'],
    ['#private fields', 'class A { #x = 1; get() { return this.#x } }'],
    ['#private methods', 'class A { #m() {} }'],
    ['static blocks', 'class A { static { this.x = 1 } }'],
    ['logical assignment', 'let a; a ??= 1'],
    ['numeric separators', 'const n = 1_000'],
    ['top-level await', 'await Promise.resolve()'],
    ['the regexp d flag', 'const r = /a/d'],
  ])('would reject %s (ES2021 and later)', (_name, source) => {
    expect(() => parseAsEs2020(source)).toThrow(SyntaxError)
  })
})
