/**
 * Locks on Deno, which lets a program ask whether a process still runs only
 * with `--allow-run`, and read its pid namespace (/proc/self/ns/pid) only with
 * `--allow-all`: without them a lock cannot be judged stale, and the error
 * names the permission to give. A real Deno process runs test/file/deno-lock.mjs.
 */
import { spawn } from 'node:child_process'
import { readlinkSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { once } from 'node:events'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { initLog } from '../../src/index.js'
import { distEntry } from '../helpers/dist.js'
import { denoBinary, runToEnd } from '../helpers/runtimes.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterAll(removeTempDirs)

const script = fileURLToPath(new URL('deno-lock.mjs', import.meta.url))
const files = ['--allow-read', '--allow-write', '--allow-sys=hostname']
const deno = (permissions: string[]) => [denoBinary(), 'run', '--no-prompt', ...permissions, script, distEntry()]

/** Opens `filename` for writing on Deno with `permissions`: what it printed. */
async function openOnDeno(filename: string, permissions: string[]): Promise<{ opened?: true; code?: string; message?: string }> {
  const run = await runToEnd([...deno(permissions), filename, 'open'])
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' })
  return JSON.parse(run.stdout)
}

/** A lock left by a process that has exited, on this host, in `pidNamespace`. */
async function deadWritersLock(pidNamespace?: string): Promise<string> {
  const filename = join(await tempDir('deno-lock'), 'log.ndjson')
  const dead = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(dead, 'close')
  const owner = { pid: dead.pid, hostname: hostname(), pidNamespace, since: '2026-11-01T00:00:00.000Z' }
  await writeFile(`${filename}.lock`, `${JSON.stringify(owner)}\n`)
  return filename
}

/** Deno holding `filename` open for writing, with `permissions`; kill it with `stop()`. */
async function holdOnDeno(filename: string, permissions: string[]) {
  const [command, ...args] = [...deno(permissions), filename, 'hold']
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = await createInterface({ input: child.stdout })
    [Symbol.asyncIterator]()
    .next()
    .then(({ value }) => [value as string])
  expect(JSON.parse(line!)).toEqual({ holding: true })
  const exited = new Promise((resolve) => child.on('close', resolve))
  return {
    async stop() {
      child.kill('SIGKILL')
      await exited
    },
  }
}

describe('a lock on Deno', () => {
  it('of a dead writer is taken over with --allow-run; without it the error names --allow-run', async () => {
    // Recording no pid namespace, as Deno without --allow-all writes it, so that Deno can judge it.
    const filename = await deadWritersLock()
    const refused = await openOnDeno(filename, files)
    expect(refused.code).toBe('LOG_LOCKED')
    expect(refused.message).toContain('(this Deno process may not ask whether it still runs: run Deno with --allow-run)')
    expect(await openOnDeno(filename, [...files, '--allow-run'])).toEqual({ opened: true })
  }, 60_000)

  it('written by Deno without --allow-all says so, and Node refuses it naming --allow-all', async () => {
    const filename = join(await tempDir('deno-lock'), 'log.ndjson')
    const holder = await holdOnDeno(filename, [...files, '--allow-run'])
    try {
      expect(JSON.parse(await readFile(`${filename}.lock`, 'utf8'))).toMatchObject({ pidNamespaceDenied: true })
      const error = await initLog({ filename }).catch((caught: unknown) => caught)
      expect(error).toMatchObject({ code: 'LOG_LOCKED' })
      expect((error as Error).message).toContain(
        '(its lock records no pid namespace: Deno wrote it without the permission to read one; run Deno with --allow-all (-A),',
      )
    } finally {
      await holder.stop()
    }
  }, 60_000)

  it('written by Node is judged by Deno only with --allow-all; without it the error names --allow-all', async () => {
    const filename = await deadWritersLock(readlinkSync('/proc/self/ns/pid'))
    const refused = await openOnDeno(filename, [...files, '--allow-run'])
    expect(refused.code).toBe('LOG_LOCKED')
    expect(refused.message).toContain('(in a pid namespace this Deno process may not compare with its own: run Deno with --allow-all (-A),')
    expect(await openOnDeno(filename, ['--allow-all'])).toEqual({ opened: true })
  }, 60_000)

  it('of a Deno writer run with --allow-all and killed is taken over by Node', async () => {
    const filename = join(await tempDir('deno-lock'), 'log.ndjson')
    const holder = await holdOnDeno(filename, ['--allow-all'])
    expect(JSON.parse(await readFile(`${filename}.lock`, 'utf8'))).toMatchObject({ pidNamespace: readlinkSync('/proc/self/ns/pid') })
    await holder.stop()
    const log = await initLog({ filename })
    await log.close()
  }, 60_000)
})
