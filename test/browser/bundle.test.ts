/**
 * The browser bundle as a CDN serves it: self-contained (no imports at all,
 * so no `node:` modules and no dependencies) and small. The size is measured
 * here and printed, not benchmarked: the budget is a property of the build.
 */
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { transform } from 'esbuild'
import { describe, expect, it } from 'vitest'
import { browserBundle } from './harness.js'

const budgetBytes = 6 * 1024

function bundleText(): string {
  try {
    return readFileSync(browserBundle, 'utf8')
  } catch (error) {
    throw new Error(`${browserBundle} is missing: run \`npm run build\` first (npm test does)`, { cause: error })
  }
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

  it(`is smaller than ${budgetBytes} bytes minified and gzipped`, async () => {
    const { code } = await transform(bundleText(), { minify: true, format: 'esm', target: 'es2022' })
    const size = gzipSync(code, { level: 9 }).length
    console.log(`dist/browser.js: ${code.length} bytes minified, ${size} bytes min+gzip (budget ${budgetBytes})`)
    expect(size).toBeLessThan(budgetBytes)
  })
})
