/**
 * What the browser tests share: a static HTTP server on 127.0.0.1 for the
 * built files and test pages, and Debian's Chromium driven by playwright-core
 * (which launches the installed browser and never downloads one).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { extname, join, normalize, resolve } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, expect } from 'vitest'

export const root = resolve(import.meta.dirname, '../..')
export const browserBundle = join(root, 'dist/browser.js')

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
}

/** URL prefixes the server maps to folders of the repository. */
const servedFolders: Record<string, string> = {
  '/dist/': 'dist',
  '/pages/': 'test/browser/pages',
  '/example/': 'examples/browser',
}

export interface StaticServer {
  url: string
  close(): Promise<void>
}

/**
 * Serves the repository's `dist/`, test pages and browser example. Pages
 * that import `tiny-event-sourcing` through an import map get the local
 * build instead of the CDN URL, so they run offline exactly as written.
 */
export async function startServer(port = 0): Promise<StaticServer> {
  if (!existsSync(browserBundle)) throw new Error(`${browserBundle} is missing: run \`npm run build\` first (npm test does)`)
  const server: Server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname)
    const prefix = Object.keys(servedFolders).find((candidate) => path.startsWith(candidate))
    const file = prefix && normalize(join(root, servedFolders[prefix]!, path.slice(prefix.length) || 'index.html'))
    if (!file?.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end('not found')
      return
    }
    let body: string | Buffer = readFileSync(file)
    if (extname(file) === '.html') {
      body = body.toString('utf8').replace(/"tiny-event-sourcing":\s*"[^"]*"/, '"tiny-event-sourcing": "/dist/browser.js"')
    }
    response.writeHead(200, { 'content-type': contentTypes[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' })
    response.end(body)
  })
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done))
  const { port: actualPort } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${actualPort}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections()
        server.close(() => done())
      }),
  }
}

function chromiumPath(): string {
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv) return fromEnv
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim().split('\n')[0]!
  } catch {
    throw new Error('Chromium is not installed: `apt-get install -y chromium` (Debian), or set CHROMIUM_PATH')
  }
}

export interface Chromium {
  context: BrowserContext
  /** The profile folder: a browser launched again on it finds the same IndexedDB. */
  userDataDir: string
  /** Closes the browser (its process ends); the profile is kept for `launchChromium(userDataDir)`. */
  close(): Promise<void>
  /** Closes the browser and deletes the profile. */
  dispose(): Promise<void>
}

/** Launches headless Chromium on a fresh profile (or on `userDataDir`, to find what an earlier launch stored). */
export async function launchChromium(userDataDir = mkdtempSync(join(tmpdir(), 'tes-chromium-'))): Promise<Chromium> {
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath(),
    headless: true,
    args: ['--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
  const close = () => context.close()
  return {
    context,
    userDataDir,
    close,
    async dispose() {
      await close()
      rmSync(userDataDir, { recursive: true, force: true })
    },
  }
}

export interface BrowserSession {
  /** The static server (one port for the whole file: IndexedDB is kept per origin). */
  readonly server: StaticServer
  readonly chromium: Chromium
  /** A new tab on the test harness page, with the browser build on `window` and an empty `window.kept`. */
  openHarness(): Promise<Page>
}

/**
 * Starts the server and Chromium before the calling test file's tests and
 * stops both after them (the browser process ends, its profile is deleted).
 */
export function useBrowser(): BrowserSession {
  let server: StaticServer | undefined
  let chromium: Chromium | undefined
  beforeAll(async () => {
    server = await startServer()
    chromium = await launchChromium()
  }, 120_000)
  afterAll(async () => {
    await chromium?.dispose()
    await server?.close()
  }, 60_000)
  const session: BrowserSession = {
    get server() {
      if (!server) throw new Error('the browser session starts in beforeAll')
      return server
    },
    get chromium() {
      if (!chromium) throw new Error('the browser session starts in beforeAll')
      return chromium
    },
    async openHarness() {
      const page = await session.chromium.context.newPage()
      await page.goto(`${session.server.url}/pages/harness.html`)
      await page.waitForFunction(() => window.harnessReady === true)
      await page.evaluate(() => {
        window.kept = {}
      })
      return page
    },
  }
  return session
}

/**
 * Asserts that opening `filename` for writing in `page` fails, as it must
 * while another tab or worker writes it: `LogLockedError`, naming the log
 * and how to follow it instead.
 */
export async function expectWriterRefused(page: Page, filename: string): Promise<void> {
  const refused = await page.evaluate(async (filename) => {
    try {
      await window.tinyEventSourcing.initLog({ filename })
      return { opened: true }
    } catch (error) {
      const locked = error as InstanceType<typeof window.exported.LogLockedError>
      return { isLocked: error instanceof window.exported.LogLockedError, code: locked.code, message: locked.message }
    }
  }, filename)
  expect(refused).toMatchObject({ isLocked: true, code: 'LOG_LOCKED' })
  expect(refused.message).toContain(filename)
  expect(refused.message).toContain('readOnly: true')
}

/**
 * Follows `filename` read-only in `page`: the log is kept as
 * `window.kept.follower`, and `[index, n]` of every event it delivers is
 * pushed onto `window.kept.received`.
 */
export async function followInPage(page: Page, filename: string): Promise<void> {
  await page.evaluate(async (filename) => {
    const follower = await window.tinyEventSourcing.initLog<{ n: number }>({ filename, readOnly: true })
    window.kept.follower = follower
    window.kept.received = []
    void (async () => {
      for await (const event of follower.events()) window.kept.received.push([event.index, event.n])
    })()
  }, filename)
}
