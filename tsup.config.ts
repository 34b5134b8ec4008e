import { build, type Plugin } from 'esbuild'
import { defineConfig } from 'tsup'

/**
 * `virtual:inspect-page`: the `inspect` page's script and styles, uPlot
 * included, bundled for browsers when the CLI is built and inlined into it as
 * text, so the published package has no runtime dependency and the page
 * loads nothing from the network.
 */
const inspectPage: Plugin = {
  name: 'inspect-page',
  setup(cli) {
    cli.onResolve({ filter: /^virtual:inspect-page$/ }, () => ({ path: 'inspect-page', namespace: 'inspect-page' }))
    cli.onLoad({ filter: /.*/, namespace: 'inspect-page' }, async () => {
      const page = await build({
        entryPoints: ['src/cli/inspect/page/main.ts'],
        bundle: true,
        write: false,
        outdir: 'inspect-page',
        format: 'iife',
        platform: 'browser',
        target: 'es2020',
        minify: true,
        metafile: true,
        logLevel: 'silent',
      })
      const text = (extension: string) => page.outputFiles.find((file) => file.path.endsWith(extension))?.text ?? ''
      return {
        contents: `export const script = ${JSON.stringify(text('.js'))}\nexport const style = ${JSON.stringify(text('.css'))}\n`,
        loader: 'js',
        watchFiles: Object.keys(page.metafile.inputs),
      }
    })
  },
}

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
    esbuildPlugins: [inspectPage],
    format: ['esm'],
    dts: false,
    clean: false,
    target: 'node20',
    platform: 'node',
    sourcemap: false,
  },
])
