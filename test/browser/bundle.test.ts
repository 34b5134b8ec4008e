/**
 * The browser bundle as a CDN serves it: self-contained (no imports at all,
 * so no `node:` modules and no dependencies) and small. Its size is measured
 * here and printed on every run; it is a property of the build, not a speed.
 */
import { readFileSync } from 'node:fs'
import { brotliCompressSync, gzipSync } from 'node:zlib'
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
 * The ceiling this test enforces, minified and gzipped: clear messages matter
 * more than a few hundred bytes, but the figure must not creep up unnoticed.
 * Raise it in the commit that needs the bytes, giving the figure.
 */
const budgetBytes = 7680

function bundleText(): string {
  try {
    return readFileSync(browserBundle, 'utf8')
  } catch (error) {
    throw new Error(`${browserBundle} is missing: run \`npm run build\` first (npm test does)`, { cause: error })
  }
}

/** The bundle minified as a CDN would serve it. */
async function minifiedBundle(): Promise<string> {
  return (await transform(bundleText(), { minify: true, format: 'esm', target: 'es2022' })).code
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
      expect(new ErrorClass('a', 'b', 1, 2).name, `${name} is renamed by a minifier: give it a name field`).toBe(name)
    }
  })

  it('saves state stores on pagehide, and knows nothing of Node’s process', async () => {
    const code = await minifiedBundle()
    expect(code).toContain('pagehide')
    const nodeOnlyCode = /\bprocess\b/.exec(code)?.[0]
    expect(nodeOnlyCode, 'keep Node-only code in src/file/ (nodeEnvironment), out of src/core/ and src/indexeddb/').toBeUndefined()
  })

  it('stays within its size budget, minified and gzipped (the figure is printed)', async () => {
    const code = await minifiedBundle()
    const gzipped = gzipSync(code, { level: 9 }).length
    const brotli = brotliCompressSync(code).length
    console.log(`dist/browser.js: ${code.length} B minified, ${gzipped} B min+gzip, ${brotli} B min+brotli (ceiling ${budgetBytes} B min+gzip)`)
    expect(gzipped).toBeLessThan(budgetBytes)
  })
})
