import { defineConfig } from 'tsup'

export default defineConfig([
  {
    entry: { index: 'src/index.ts', postgres: 'src/postgres/index.ts', testing: 'src/testing/index.ts' },
    // Entries share one copy of common code (error classes above all), in CommonJS too.
    splitting: true,
    format: ['esm', 'cjs'],
    // Every build's declarations come from here: two dts builds would delete each other's output.
    dts: { entry: { index: 'src/index.ts', postgres: 'src/postgres/index.ts', testing: 'src/testing/index.ts', browser: 'src/browser.ts' } },
    // The only clean. The builds below write into dist/ too, at the same time: leave their files alone.
    clean: ['!browser.js', '!cli.js'],
    target: 'node20',
    platform: 'node',
    sourcemap: false,
  },
  {
    // The browser build (package.json "exports" › "browser"): one ESM file, no Node modules.
    entry: { browser: 'src/browser.ts' },
    format: ['esm'],
    dts: false,
    clean: false,
    // ES2020, not newer: CDNs and bundlers with older parsers (Skypack's among them) must accept it. test/browser/bundle.test.ts parses it so.
    target: 'es2020',
    platform: 'browser',
    splitting: false,
    sourcemap: false,
  },
  {
    // The `tiny-event-sourcing` command (package.json "bin"): one ESM file, shebang kept.
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    dts: false,
    clean: false,
    target: 'node20',
    platform: 'node',
    sourcemap: false,
  },
])
