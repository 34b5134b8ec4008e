/**
 * The package as users get it: built from the current sources with the
 * project's tsup config, packed with `npm pack`, installed into a fresh
 * project, loaded by `import` and by `require` in separate node processes.
 * It is built and packed in a staging folder, so the `dist/` that other
 * tests may use is never rebuilt under them.
 */
import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

let project: string

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'tes-package-'))
  const staging = join(project, 'staging')
  const packed = join(project, 'packed')
  await mkdir(staging)
  await mkdir(packed)
  for (const file of ['package.json', 'README.md', 'LICENSE']) await copyFile(join(root, file), join(staging, file))
  await run(join(root, 'node_modules', '.bin', 'tsup'), ['--out-dir', join(staging, 'dist')], { cwd: root })
  // The scripts (prepack) are skipped: the build above is the one being packed.
  await run(npm, ['pack', '--ignore-scripts', '--pack-destination', packed], { cwd: staging })
  const [tarball] = await readdir(packed)
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'uses-tiny-event-sourcing', private: true }))
  await run(npm, ['install', join(packed, tarball!), '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project })
}, 180_000)

afterAll(async () => {
  await rm(project, { recursive: true, force: true })
})

/** Runs a script in the fresh project with node and returns what it printed. */
async function runInProject(file: string, source: string): Promise<string> {
  await writeFile(join(project, file), source)
  const { stdout } = await run(process.execPath, [file], { cwd: project })
  return stdout
}

/** The line (and the event, as JSON) the scripts below store: their time in `_meta`, then the index. */
const storedLine = /^\{"type":"bookmark","url":"https:\/\/example\.com","_meta":\{"at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"\},"index":0\}$/

describe('the packed package', () => {
  it('works from import, with named exports and the default export object', async () => {
    const output = await runInProject(
      'esm.mjs',
      `
      import tinyEventSourcing, { initLog, memoryStorage, CorruptLogError } from 'tiny-event-sourcing'
      if (tinyEventSourcing.initLog !== initLog) throw new Error('the default export is not the same initLog')
      if (typeof CorruptLogError !== 'function' || typeof memoryStorage !== 'function') throw new Error('missing exports')
      const filename = new URL('./esm-log/log.ndjson', import.meta.url).pathname
      const log = await tinyEventSourcing.initLog({ filename })
      await log.append({ type: 'bookmark', url: 'https://example.com' })
      await log.close()
      const again = await initLog({ filename })
      for await (const event of again.events()) { console.log(JSON.stringify(event)); break }
      await again.close()
      `,
    )
    expect(output.trim()).toMatch(storedLine)
  })

  it('works from require, with the same exports', async () => {
    const output = await runInProject(
      'cjs.cjs',
      `
      const tinyEventSourcing = require('tiny-event-sourcing')
      const { initLog, default: defaultExport } = tinyEventSourcing
      if (defaultExport.initLog !== initLog) throw new Error('the default export is not the same initLog')
      const filename = require('node:path').join(__dirname, 'cjs-log', 'log.ndjson')
      ;(async () => {
        const log = await initLog({ filename })
        const stored = await log.append({ type: 'bookmark', url: 'https://example.com' })
        console.log(JSON.stringify(stored))
        for await (const event of log.events()) { console.log(JSON.stringify(event)); break }
        await log.close()
      })()
      `,
    )
    const [appended, read] = output.trim().split('\n')
    expect(appended).toMatch(storedLine)
    expect(read).toBe(appended)
  })

  it('installs the tiny-event-sourcing command (package.json "bin")', async () => {
    const command = join(project, 'node_modules', '.bin', 'tiny-event-sourcing')
    await runInProject(
      'bin-log.mjs',
      `
      import { initLog } from 'tiny-event-sourcing'
      const log = await initLog({ filename: 'bin-log/log.ndjson' })
      await log.append({ type: 'bookmark', url: 'https://example.com' })
      await log.close()
      `,
    )
    const { stdout } = await run(command, ['cat', 'bin-log/log.ndjson'], { cwd: project })
    expect(stdout).toMatch(new RegExp(`${storedLine.source.slice(0, -1)}\\n$`))
  })

  it('has tiny-event-sourcing/postgres for import and require, which asks for pg (not installed here) only when it needs it', async () => {
    const open = `const storage = postgresStorage({ connectionString: 'postgres://localhost:1/none', log: 'x' })
      storage.open().then(() => console.log('opened?'), (error) => console.log(error.message))`
    const esm = await runInProject('postgres.mjs', `import { postgresStorage } from 'tiny-event-sourcing/postgres'\n${open}`)
    const cjs = await runInProject('postgres.cjs', `const { postgresStorage } = require('tiny-event-sourcing/postgres')\n${open}`)
    for (const output of [esm, cjs]) expect(output).toBe('tiny-event-sourcing: { connectionString } needs the "pg" package; install it with `npm install pg`\n')
  })

  it('has tiny-event-sourcing/testing for import and require, loading no test runner (none is installed here)', async () => {
    const use = (given: string) => `${given}
      given([{ type: 'counted', n: 2 }]).reduce((total, event) => total + event.n, 0).expect(2)
      console.log(typeof describeLogStorage, typeof describeStateStoreBackend, Object.keys(require.cache ?? {}).some((path) => /vitest|jest/.test(path)))`
    const esm = await runInProject(
      'testing.mjs',
      use(
        "import { createRequire } from 'node:module'\nconst require = createRequire(import.meta.url)\nimport { describeLogStorage, describeStateStoreBackend, given } from 'tiny-event-sourcing/testing'",
      ),
    )
    const cjs = await runInProject(
      'testing.cjs',
      use("const { describeLogStorage, describeStateStoreBackend, given } = require('tiny-event-sourcing/testing')"),
    )
    for (const output of [esm, cjs]) expect(output).toBe('function function false\n')
  })

  it('has an exports map of only the conditions it means (types first), each pointing into dist/', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }
    const conditions = manifest.exports['.'] as Record<string, Record<string, unknown>>
    // `jsdelivr` (jsDelivr's /+esm) and `browser` first, so that browser builds (CDNs, bundlers) pick them over `import`.
    expect(Object.keys(conditions)).toEqual(['jsdelivr', 'browser', 'import', 'require'])
    for (const [condition, target] of Object.entries(conditions)) {
      expect(Object.keys(target)).toEqual(['types', 'default'])
      const entry = condition === 'browser' || condition === 'jsdelivr' ? 'browser' : 'index'
      for (const file of Object.values(target)) expect(file).toMatch(new RegExp(`^\\./dist/${entry}\\.(d\\.c?ts|c?js)$`))
    }
  })

  it('resolves to the browser build under the browser condition', async () => {
    await writeFile(
      join(project, 'browser.mjs'),
      `
      import * as library from 'tiny-event-sourcing'
      console.log(typeof library.indexedDbStorage, typeof library.fileStorage, typeof library.default.initLog)
    `,
    )
    const { stdout } = await run(process.execPath, ['--conditions=browser', 'browser.mjs'], { cwd: project })
    expect(stdout.trim()).toBe('function undefined function')
  })

  it('ships only the build, the README and the licence', async () => {
    const installed = join(project, 'node_modules', 'tiny-event-sourcing')
    expect((await readdir(installed)).sort()).toEqual(['LICENSE', 'README.md', 'dist', 'package.json'])
  })
})
