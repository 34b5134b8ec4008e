/**
 * The runtimes' binaries, found where test/runtimes/flow.test.ts finds them:
 * the Node running the tests, the current Node release (test/runtimes/node-current,
 * installed by `npm install` on Linux), and Bun and Deno from their dev dependencies.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

function binary(path: string, install: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: ${install}`)
  return path
}

const bin = (name: string) => join(root, 'node_modules', '.bin', name)

export const bunBinary = (): string => binary(bin('bun'), 'run `npm install` (the bun dev dependency ships the binary)')
export const denoBinary = (): string => binary(bin('deno'), 'run `npm install` (the deno dev dependency ships the binary)')

/** The current Node release, or undefined where the npm registry has none for this platform (test/runtimes/node-current/install.mjs says so). */
export function currentNodeBinary(): string | undefined {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) return undefined
  return binary(
    join(root, 'test', 'runtimes', 'node-current', 'node_modules', '.bin', 'node'),
    'run `npm install` in the repository (its prepare script installs the current Node into test/runtimes/node-current)',
  )
}

/** Runs a command to its end: its exit code and output. */
export function runToEnd(command: readonly string[], env: Record<string, string> = {}) {
  const child = spawn(command[0]!, command.slice(1), { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (data) => (stdout += data))
  child.stderr.on('data', (data) => (stderr += data))
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}
