/** Drives the built `tiny-event-sourcing` bin as a child process, as users run it. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { removeTempDirs, tempDir as makeTempDir } from '../helpers/temp-dir.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** The bin as package.json points to it. */
export const bin = join(root, 'dist', 'cli.js')

if (!existsSync(bin)) throw new Error(`${bin} is missing: the CLI tests run the built bin; run \`npm run build\` (or \`npx tsup\`) first`)

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs the bin to completion with `args`, in `cwd`. */
export function run(args: string[], options: { cwd?: string } = {}): Promise<RunResult> {
  return finished(start(args, options))
}

const running = new Set<ChildProcessWithoutNullStreams>()

/** Starts the bin without waiting for it. `stopStarted()` ends it if a test fails before it does. */
export function start(args: string[], options: { cwd?: string } = {}): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd, stdio: 'pipe' })
  running.add(child)
  child.on('exit', () => running.delete(child))
  return child
}

/** Kills every child `start` started that is still running (for `afterEach`: a failed test leaves no follower behind). */
export function stopStarted(): void {
  for (const child of running) child.kill('SIGKILL')
  running.clear()
}

/** Collects a child's output until it exits. */
export function finished(child: ChildProcessWithoutNullStreams): Promise<RunResult> {
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

/** Gathers a running child's stdout lines; `until(n)` waits for the first n of them. */
export function stdoutLines(child: ChildProcessWithoutNullStreams): { until(count: number): Promise<string[]> } {
  const lines: string[] = []
  let partial = ''
  let ended = false
  let wake = () => {}
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    const parts = (partial + text).split('\n')
    partial = parts.pop()!
    lines.push(...parts)
    wake()
  })
  child.on('close', () => {
    ended = true
    wake()
  })
  return {
    async until(count) {
      while (lines.length < count) {
        if (ended) throw new Error(`the process ended after ${lines.length} lines, ${count} expected:\n${lines.join('\n')}`)
        await new Promise<void>((resolve) => (wake = resolve))
      }
      return lines.slice(0, count)
    },
  }
}

/** A fresh temporary folder, removed by `removeTempDirs()`. */
export const tempDir = (): Promise<string> => makeTempDir('cli')
export { removeTempDirs }

/** Writes a log file line by line as the library writes it: `JSON.stringify({ ...event, index })`. */
export async function writeLog(filename: string, events: object[]): Promise<string[]> {
  const lines = events.map((event, index) => JSON.stringify({ ...event, index }))
  await writeFile(filename, lines.map((line) => `${line}\n`).join(''))
  return lines
}
