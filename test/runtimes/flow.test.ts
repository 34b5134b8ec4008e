/**
 * The built package on every runtime it supports: the Node running the tests,
 * the current Node release (test/runtimes/node-current, installed from the npm
 * registry by `npm install`), Bun and Deno (the `bun` and `deno` dev
 * dependencies ship their binaries). Each runs test/runtimes/flow.mjs — open a
 * log, 1,000 appends not awaited, a read-only follower in another process, a
 * second writer refused, a state store kept by `project`, saved and reloaded, the
 * lock of a writer killed with SIGKILL taken over —
 * and then the `tiny-event-sourcing cat` command (dist/cli.js) on what it wrote.
 */
import { readFile } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { distEntry } from '../helpers/dist.js'
import { bunBinary, currentNodeBinary, denoBinary, runToEnd } from '../helpers/runtimes.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { denoPermissions } from './deno-permissions.js'

afterAll(removeTempDirs)

const root = fileURLToPath(new URL('../../', import.meta.url))
const flow = join(root, 'test', 'runtimes', 'flow.mjs')
const cli = join(root, 'dist', 'cli.js')

interface Runtime {
  name: string
  /** The command line that runs a script: `[binary, ...options]`. */
  command: string[]
  /** What `flow.mjs main` needs beyond what the library needs: reading FLOW_COMMAND and starting its helpers. */
  mainExtra: string[]
}

const runtimes: Runtime[] = [
  { name: 'Node', command: [process.execPath], mainExtra: [] },
  { name: 'Bun', command: [bunBinary()], mainExtra: [] },
  {
    name: 'Deno',
    command: [denoBinary(), 'run', '--no-prompt', ...denoPermissions],
    mainExtra: ['--allow-env'],
  },
]
// The current Node release, where the npm registry has it for this platform (test/runtimes/node-current/install.mjs says when not).
const currentNode = currentNodeBinary()
if (currentNode !== undefined) runtimes.splice(1, 0, { name: 'current Node', command: [currentNode], mainExtra: [] })
for (const runtime of runtimes) {
  const version = execFileSync(runtime.command[0]!, ['--version'], { encoding: 'utf8' }).trim().split('\n')[0]!
  runtime.name = `${runtime.name} ${/\d+\.\d+\.\d+/.exec(version)?.[0] ?? version}`
}

describe('the flow on each runtime', () => {
  it('covers Node, Bun and Deno', () => {
    expect(runtimes.map((runtime) => runtime.name.split(' ')[0])).toEqual(expect.arrayContaining(['Node', 'Bun', 'Deno']))
  })

  for (const runtime of runtimes) {
    it(`${runtime.name}: the flow, then tiny-event-sourcing cat`, async () => {
      const folder = await tempDir('runtime')
      const [binaryPath, ...options] = runtime.command
      const main = await runToEnd([binaryPath!, ...options, ...runtime.mainExtra, flow, 'main', distEntry(), folder], {
        FLOW_COMMAND: JSON.stringify(runtime.command),
      })
      const steps = [
        'open a log',
        '1000 appends without awaiting, in call order',
        'a follower opened with readOnly in another process sees them, then a new one',
        'a second writer is refused with LogLockedError',
        'a state store kept by project, saved and reloaded',
        'close the log',
        'the lock of a writer killed with SIGKILL is taken over',
      ]
      expect(main.stdout, `${runtime.name}: ${main.stderr}`).toBe(steps.map((step) => `ok ${step}\n`).join(''))
      expect(main.code, main.stderr).toBe(0)

      const log = join(folder, 'log.ndjson')
      const cat = await runToEnd([...runtime.command, cli, 'cat', log, '--from', '998'])
      expect({ code: cat.code, stderr: cat.stderr }).toEqual({ code: 0, stderr: '' })
      // cat prints the stored lines as they are, time included.
      const stored = (await readFile(log, 'utf8')).split('\n')
      expect(
        stored
          .slice(998, 1001)
          .map((line) => JSON.parse(line))
          .map(({ _meta, ...event }) => event),
      ).toEqual([
        { type: 'even', n: 998, index: 998 },
        { type: 'odd', n: 999, index: 999 },
        { type: 'late', n: 1000, index: 1000 },
      ])
      expect(cat.stdout).toBe(stored.slice(998).join('\n'))
      const late = await runToEnd([...runtime.command, cli, 'cat', log, '--type', 'late', '--pretty'])
      expect(late.code, late.stderr).toBe(0)
      expect(JSON.parse(late.stdout)).toEqual(JSON.parse(stored[1000]!))
    }, 240_000)
  }
})
