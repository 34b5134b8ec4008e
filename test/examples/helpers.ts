import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A local web server with a few pages, counting how often each path is fetched. */
export async function startPageServer(): Promise<{ url: (path: string) => string; hits: Map<string, number>; close: () => Promise<void> }> {
  const hits = new Map<string, number>()
  const pages: Record<string, string> = {
    '/a': '<!doctype html><html><head><meta charset="utf-8"><TITLE>\n  Page A &amp; friends\n</TITLE><link rel="shortcut icon" href="/icons/a.png"></head><body>a</body></html>',
    '/b': "<html><head><title>Page B</title><link href='b.ico' rel='stylesheet'></head></html>",
    '/c': '<html><head><title>Page C</title><link rel=icon href=//cdn.example/c.svg></head></html>',
    '/d': '<html><head><title>Page D</title></head></html>',
  }
  const server: Server = createServer((request, response) => {
    const path = request.url ?? '/'
    hits.set(path, (hits.get(path) ?? 0) + 1)
    const page = pages[path]
    if (page === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('no such page')
      return
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

/** A program started as a child process, with its output so far and its exit. */
export interface RunningProgram {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
  /** Resolves with the first match of `pattern` in the output, waiting for it. */
  waitFor: (pattern: RegExp) => Promise<RegExpMatchArray>
}

export function startProgram(args: string[], options: { cwd?: string; env?: Record<string, string> }): RunningProgram {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const listeners = new Set<() => void>()
  const collect = (chunk: Buffer) => {
    output += chunk.toString()
    for (const listener of listeners) listener()
  }
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const waitFor = (pattern: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(output)
        if (match) {
          listeners.delete(check)
          resolve(match)
        }
      }
      listeners.add(check)
      check()
      void exited.then((code) => {
        if (listeners.has(check)) reject(new Error(`the program exited (${code}) before printing ${pattern}; its output:\n${output}`))
      })
    })
  return { child, output: () => output, exited, waitFor }
}

/** A local URL where nothing listens (a port that was free a moment ago): fetching it is refused. */
export async function unreachableUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}/nothing-listens-here`
}
