/**
 * A log the program drops without `close()` stays open until exit: the
 * garbage collector never reaches its file, which on the current Node and
 * on Bun would end the process ("A FileHandle object was closed during
 * garbage collection", ERR_INVALID_STATE) and on Node 20 warn (DEP0137).
 * test/file/dropped-log.mjs, on each runtime, with the collector forced.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { distEntry } from '../helpers/dist.js'
import { bunBinary, currentNodeBinary, denoBinary, runToEnd } from '../helpers/runtimes.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterAll(removeTempDirs)

const script = fileURLToPath(new URL('dropped-log.mjs', import.meta.url))
const currentNode = currentNodeBinary()
const runtimes: { name: string; command: string[] }[] = [
  { name: `Node ${process.versions.node}`, command: [process.execPath, '--expose-gc'] },
  ...(currentNode === undefined ? [] : [{ name: 'the current Node', command: [currentNode, '--expose-gc'] }]),
  { name: 'Bun', command: [bunBinary()] },
  {
    name: 'Deno',
    command: [denoBinary(), 'run', '--no-prompt', '--v8-flags=--expose-gc', '--allow-read', '--allow-write', '--allow-sys=hostname', '--allow-run'],
  },
]

describe('a log dropped without close()', () => {
  for (const runtime of runtimes) {
    it(`stays open, without a crash or a warning, on ${runtime.name}`, async () => {
      const folder = await tempDir('dropped')
      const run = await runToEnd([...runtime.command, script, distEntry(), folder])
      expect({ code: run.code, stdout: run.stdout, stderr: run.stderr }).toEqual({ code: 0, stdout: 'survived\n', stderr: '' })
      // The lock goes at exit, as for a log closed by hand.
      expect(existsSync(join(folder, 'log.ndjson.lock'))).toBe(false)
    }, 60_000)
  }
})
