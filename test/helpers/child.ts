/**
 * Real child processes for the tests: a script importing the library from
 * `src/` (bundled once per test worker, so no stale `dist/` is ever used),
 * talking to the test through lines on stdout (and, if it likes, stdin).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'tsup'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
let bundle: Promise<{ url: string; dir: string }> | undefined

/** The library built from `src/` as ES modules (main entry and `/postgres`); the main entry's `file:` URL. */
async function libraryUrl(): Promise<string> {
  bundle ??= (async () => {
    // Inside node_modules, so that the bundle's own imports (`pg`) resolve.
    await mkdir(join(root, 'node_modules', '.cache'), { recursive: true })
    const dir = await mkdtemp(join(root, 'node_modules', '.cache', 'tes-library-'))
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    await build({
      entry: { index: join(root, 'src', 'index.ts'), postgres: join(root, 'src', 'postgres', 'index.ts') },
      format: ['esm'],
      outDir: dir,
      dts: false,
      silent: true,
      config: false,
      platform: 'node',
      target: 'node20',
      clean: false,
    })
    return { url: pathToFileURL(join(dir, 'index.js')).href, dir }
  })()
  return (await bundle).url
}

/** A running child process and what it says. */
export interface Child {
  readonly process: ChildProcess
  /** Resolves with the next line the child prints; rejects if it exits first. */
  nextLine(): Promise<string>
  /** Skips lines until one satisfies `test`, and resolves with it. */
  lineWhere(test: (line: string) => boolean): Promise<string>
  /** Resolves when the child has exited, with its exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Everything the child wrote to stderr so far. */
  stderr(): string
  /** Sends SIGKILL and waits for the child to be gone. */
  kill(): Promise<void>
}

const running = new Set<Child>()

/**
 * Starts `node` on an ES module whose text is `source`; its
 * `from 'tiny-event-sourcing'` (and `'tiny-event-sourcing/postgres'`)
 * imports load the library built from `src/`. Arguments are available to the
 * script as `process.argv.slice(2)`; `child.process.stdin` writes to its stdin.
 * `wrapper` is a command line that runs `node` for it, e.g. `unshare …`. With
 * `user`, the child runs as that user and group (the test must be root).
 */
export async function startChild(
  source: string,
  args: string[] = [],
  { wrapper = [], user }: { wrapper?: string[]; user?: { uid: number; gid: number } } = {},
): Promise<Child> {
  const url = await libraryUrl()
  const dir = await mkdtemp(join(tmpdir(), 'tes-child-'))
  const script = join(dir, 'child.mjs')
  const postgresUrl = new URL('postgres.js', url).href
  await writeFile(
    script,
    source.replaceAll(`'tiny-event-sourcing/postgres'`, JSON.stringify(postgresUrl)).replaceAll(`'tiny-event-sourcing'`, JSON.stringify(url)),
  )
  // mkdtemp makes folders only their owner can enter: another user must be able to load the script and the library.
  if (user) await Promise.all([dir, dirname(fileURLToPath(url))].map((folder) => chmod(folder, 0o755)))
  const [command, ...commandArgs] = [...wrapper, process.execPath, script, ...args]
  const child = spawn(command!, commandArgs, { stdio: ['pipe', 'pipe', 'pipe'], ...user })
  let errors = ''
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (errors += text))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const lines: string[] = []
  let waiting: (() => void) | undefined
  let ended = false
  createInterface({ input: child.stdout! })
    .on('line', (line) => {
      lines.push(line)
      waiting?.()
    })
    .on('close', () => {
      ended = true
      waiting?.()
    })
  const nextLine = async (): Promise<string> => {
    while (lines.length === 0) {
      if (ended) {
        const { code, signal } = await exited
        throw new Error(`child exited (code ${code}, signal ${signal}) before printing the expected line; stderr:\n${errors}`)
      }
      await new Promise<void>((resolve) => (waiting = resolve))
    }
    return lines.shift()!
  }
  const handle: Child = {
    process: child,
    nextLine,
    async lineWhere(test) {
      for (;;) {
        const line = await nextLine()
        if (test(line)) return line
      }
    },
    exited,
    stderr: () => errors,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
      running.delete(handle)
    },
  }
  running.add(handle)
  void exited.then(() => rm(dir, { recursive: true, force: true }))
  return handle
}

/** Kills every child still running (for `afterEach`), so no test leaves processes behind. */
export async function killChildren(): Promise<void> {
  await Promise.all([...running].map((child) => child.kill()))
}

/** Kills the children and removes the built library (for `afterAll`). */
export async function cleanUpChildren(): Promise<void> {
  await killChildren()
  const built = bundle
  bundle = undefined
  if (built) await rm((await built).dir, { recursive: true, force: true })
}
