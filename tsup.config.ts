import { defineConfig } from 'tsup'

export default defineConfig([
  {
    entry: { index: 'src/index.ts', postgres: 'src/postgres/index.ts' },
    // Entries share one copy of common code (error classes above all), in CommonJS too.
    splitting: true,
    format: ['esm', 'cjs'],
    dts: true,
    // The builds below write into dist/ too, at the same time: leave their files alone.
    clean: ['!cli.js'],
    target: 'node20',
    platform: 'node',
    sourcemap: false,
  },
  {
    // The `tiny-event-sourcing` command (package.json "bin"): one ESM file, shebang kept.
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    dts: false,
    clean: false,
    target: 'node20',
    platform: 'node',
    sourcemap: false,
  },
])
