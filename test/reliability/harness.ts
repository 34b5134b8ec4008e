/**
 * Shared machinery of the reliability suite: child processes built from the
 * real sources, temporary folders, and the checks every crash round repeats.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { build } from 'tsup'
import { afterAll } from 'vitest'
import { initLog, type Indexed } from '../../src/index.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

export { tempDir }

const here = dirname(fileURLToPath(import.meta.url))

/**
 * `npm run stress` sets TES_STRESS=1: every test then runs its long version.
 * `npm test` keeps the rounds few so the suite stays within a few minutes on
 * a small machine.
 */
export const stress = process.env.TES_STRESS === '1'

/** `short` rounds under `npm test`, `long` under `npm run stress`. */
export function rounds(short: number, long: number): number {
  return stress ? long : short
}

// Registered on the importing test file: its folders go when it is done.
// TES_KEEP=1 keeps them, to look at after a failure.
afterAll(async () => {
  builtFixtures.clear()
  if (process.env.TES_KEEP !== '1') await removeTempDirs()
})

const builtFixtures = new Map<string, Promise<string>>()

/**
 * Bundles one child-process script from `fixtures/` with the library's real
 * sources (not `dist/`, which may be stale) into plain JavaScript that `node`
 * runs, once per test file; resolves with the built file.
 */
export function buildFixture(name: string): Promise<string> {
  let built = builtFixtures.get(name)
  if (built === undefined) {
    built = (async () => {
      const outDir = await tempDir('fixture')
      await build({
        entry: { [name]: join(here, 'fixtures', `${name}.ts`) },
        outDir,
        format: ['esm'],
        platform: 'node',
        target: 'node20',
        outExtension: () => ({ js: '.mjs' }),
        dts: false,
        clean: false,
        silent: true,
        config: false,
      })
      return join(outDir, `${name}.mjs`)
    })()
    builtFixtures.set(name, built)
  }
  return built
}

/** A child process running one fixture, with its stdout collected line by line. */
export interface Child {
  process: ChildProcess
  /** Complete stdout lines received so far. */
  lines: string[]
  /** Everything written to stderr (warnings included). */
  stderr(): string
  /** Resolves with the first stdout line that satisfies `test` (now or later). */
  waitForLine(test: (line: string) => boolean, timeoutMs?: number): Promise<string>
  /** Resolves once the process has exited and its pipes are drained. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `node <fixture>.mjs ...args`; stdout is read as lines, which a child writes synchronously (pipes are blocking on Linux), so a line written before SIGKILL is never lost. */
export async function startFixture(name: string, args: string[], nodeFlags: string[] = []): Promise<Child> {
  const script = await buildFixture(name)
  const child = spawn(process.execPath, [...nodeFlags, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  const waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = []
  let partial = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop()!
    for (const line of parts) {
      lines.push(line)
      for (const waiter of [...waiters]) {
        if (waiter.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1)
          waiter.resolve(line)
        }
      }
    }
  })
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }))
  })
  return {
    process: child,
    lines,
    stderr: () => stderr,
    exited,
    waitForLine(test, timeoutMs = 60_000) {
      const found = lines.find(test)
      if (found !== undefined) return Promise.resolve(found)
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`fixture ${name} printed no expected line within ${timeoutMs} ms; stderr:\n${stderr}`))
        }, timeoutMs)
        const waiter = {
          test,
          resolve: (line: string) => {
            clearTimeout(timer)
            resolve(line)
          },
        }
        waiters.push(waiter)
        void exited.then(() => {
          if (!waiters.includes(waiter)) return
          clearTimeout(timer)
          reject(new Error(`fixture ${name} exited before printing the expected line; stderr:\n${stderr}`))
        })
      })
    },
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** The lines of a file, read as a stream (logs in these tests outgrow the longest string V8 allows). */
export async function* readLines(filename: string): AsyncGenerator<string> {
  const lines = createInterface({ input: createReadStream(filename, 'utf8'), crlfDelay: Infinity })
  yield* lines
}

/** Opens the log (as its next writer would), reads every event it has (or what `keep` takes of each), and closes it. */
export async function readWholeLog<E extends object, K = Indexed<E>>(filename: string, keep: (event: Indexed<E>) => K = (event) => event as K): Promise<K[]> {
  const log = await initLog<E>({ filename })
  const events: K[] = []
  try {
    if (log.length > 0) {
      for await (const event of log.events()) {
        events.push(keep(event))
        if (event.index === log.length - 1) break
      }
    }
  } finally {
    await log.close()
  }
  return events
}

/** -0 is left out of generated values: JSON writes it as 0 (see docs/guarantees.md). */
export function hasNegativeZero(value: unknown): boolean {
  if (Object.is(value, -0)) return true
  if (typeof value !== 'object' || value === null) return false
  return Object.values(value).some(hasNegativeZero)
}
