/**
 * Which file each CDN and tool gets from package.json "exports", resolved the
 * way Node's algorithm does (the first key, in object order, that is one of
 * the resolver's conditions or "default"), with the conditions each documents:
 * - esm.sh builds with esbuild for the browser platform: browser, module, import, default;
 * - Skypack prefers browser, and accepts import;
 * - jsDelivr's /+esm bundles with Rollup from "exports", and honours a
 *   "jsdelivr" key meant for it; which other conditions it uses is not
 *   documented, so the check here assumes none of browser's;
 * - jsDelivr without /+esm serves the default file: the "jsdelivr" field,
 *   then "browser", then "main".
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

type Exports = string | { [condition: string]: Exports }
const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  exports: Record<string, Exports>
  jsdelivr?: string
  main: string
}

function resolve(target: Exports, conditions: string[]): string | undefined {
  if (typeof target === 'string') return target
  for (const [key, value] of Object.entries(target)) {
    if (key !== 'default' && !conditions.includes(key)) continue
    const found = resolve(value, conditions)
    if (found !== undefined) return found
  }
  return undefined
}

const browserBuild = './dist/browser.js'

describe('package.json "exports" for CDNs and tools', () => {
  it.each([
    ['esm.sh', ['browser', 'module', 'import', 'default']],
    ['Skypack', ['browser', 'import']],
    ['jsDelivr /+esm, by its own condition alone', ['jsdelivr', 'module', 'import']],
    ['a bundler building for browsers (Vite, esbuild, webpack)', ['browser', 'import', 'module']],
  ])('%s gets the browser build', (_who, conditions) => {
    expect(resolve(manifest.exports['.']!, conditions)).toBe(browserBuild)
  })

  it('jsDelivr without /+esm serves the browser build as the default file, not "main"', () => {
    expect(manifest.jsdelivr ?? manifest.main).toBe(browserBuild)
  })

  it.each([
    ['import', './dist/index.js'],
    ['require', './dist/index.cjs'],
  ])('Node (%s) gets the Node build', (condition, file) => {
    expect(resolve(manifest.exports['.']!, ['node', condition])).toBe(file)
  })

  it('gives TypeScript the browser types along with the browser build', () => {
    expect(resolve(manifest.exports['.']!, ['types', 'jsdelivr'])).toBe('./dist/browser.d.ts')
    expect(resolve(manifest.exports['.']!, ['types', 'browser', 'import'])).toBe('./dist/browser.d.ts')
  })
})
