import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts', postgres: 'src/postgres/index.ts' },
  // Entries share one copy of common code (error classes above all), in CommonJS too.
  splitting: true,
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  sourcemap: false,
})
