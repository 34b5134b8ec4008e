import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { distEntry } from '../helpers/dist.js'
import { poll } from '../helpers/poll.js'
import { startPageServer, startProgram, unreachableUrl, type RunningProgram } from './helpers.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterAll(removeTempDirs)

const serverScript = new URL('../../examples/bookmarks/server.mjs', import.meta.url).pathname

interface Bookmark {
  url: string
  title: string | null
  faviconUrl: string | null
  error: string | null
  bookmarkedAt: string
}
type ReadModel = { byUrl: Record<string, Bookmark> }

const running = new Set<RunningProgram>()
afterEach(() => {
  for (const program of running) program.child.kill('SIGKILL')
  running.clear()
})

async function startService(dataDir: string) {
  distEntry() // the example imports the built package
  const program = startProgram([serverScript], { env: { PORT: '0', BOOKMARKS_DATA_DIR: dataDir } })
  running.add(program)
  const [, base] = await program.waitFor(/Bookmarks service on (http:\/\/\S+\/bookmarks) \(data in (.+)\)/)
  const getBookmarks = async () => (await (await fetch(base!)).json()) as ReadModel
  const postBookmark = (body: unknown) =>
    fetch(base!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
  return { program, base: base!, getBookmarks, postBookmark }
}

const settled = (model: ReadModel, urls: string[]) =>
  urls.every((url) => model.byUrl[url] && (model.byUrl[url].title !== null || model.byUrl[url].error !== null))

describe('examples/bookmarks (npm start)', () => {
  it('takes bookmarks over HTTP, fetches their info, and survives restarts without refetching or losing anything', async () => {
    const pages = await startPageServer()
    const dataDir = join(await tempDir('bookmarks'), 'moved', 'here')
    try {
      let service = await startService(dataDir)
      expect(service.program.output()).toContain(`(data in ${dataDir})`)
      expect(await service.getBookmarks()).toEqual({ byUrl: {} })

      const unreachable = await unreachableUrl()
      const urls = [pages.url('/a'), pages.url('/b'), pages.url('/missing'), unreachable]
      for (const url of urls) {
        const response = await service.postBookmark({ url })
        expect(response.status).toBe(202)
        expect(await response.json()).toHaveProperty('index')
      }

      const model = await poll(service.getBookmarks, (value) => settled(value, urls))
      expect(model.byUrl[pages.url('/a')]).toMatchObject({ title: 'Page A & friends', faviconUrl: pages.url('/icons/a.png'), error: null })
      // A stylesheet link is not an icon: the site's /favicon.ico is assumed.
      expect(model.byUrl[pages.url('/b')]).toMatchObject({ title: 'Page B', faviconUrl: pages.url('/favicon.ico'), error: null })
      expect(model.byUrl[pages.url('/missing')]).toMatchObject({ title: null, error: expect.stringContaining('404') })
      expect(model.byUrl[unreachable]).toMatchObject({ title: null, error: expect.stringMatching(/ECONNREFUSED/) })
      expect(model.byUrl[pages.url('/a')]!.bookmarkedAt).toMatch(/^\d{4}-\d\d-\d\dT/)
      expect(pages.hits.get('/a')).toBe(1)
      expect(pages.hits.get('/missing')).toBe(1)

      // Graceful restart (SIGTERM, as Ctrl-C would).
      service.program.child.kill('SIGTERM')
      expect(await service.program.exited).toBe(0)
      service = await startService(dataDir)
      expect(await service.getBookmarks()).toEqual(model)
      // Once a new bookmark is handled, the fetcher has passed every older event: nothing was fetched again.
      expect((await service.postBookmark({ url: pages.url('/c') })).status).toBe(202)
      const afterRestart = await poll(service.getBookmarks, (value) => settled(value, [pages.url('/c')]))
      expect(afterRestart.byUrl[pages.url('/c')]).toMatchObject({ title: 'Page C', faviconUrl: 'http://cdn.example/c.svg' })
      expect([pages.hits.get('/a'), pages.hits.get('/b'), pages.hits.get('/missing')]).toEqual([1, 1, 1])

      // Crash restart (SIGKILL): once the fetcher's version is on disk, nothing is fetched again either.
      const dResponse = await service.postBookmark({ url: pages.url('/d') })
      const { index: dIndex } = (await dResponse.json()) as { index: number }
      await poll(service.getBookmarks, (value) => settled(value, [pages.url('/d')]))
      await poll(
        async () => JSON.parse(await readFile(join(dataDir, 'info-fetcher.json'), 'utf8')) as { _version: number },
        (envelope) => envelope._version >= dIndex,
      )
      const beforeCrash = await service.getBookmarks()
      service.program.child.kill('SIGKILL')
      await service.program.exited
      service = await startService(dataDir)
      // The read model may be written up to a second behind; the log fills in the rest.
      expect(await poll(service.getBookmarks, (value) => Object.keys(value.byUrl).length === 6 && settled(value, Object.keys(value.byUrl)))).toEqual(
        beforeCrash,
      )
      expect((await service.postBookmark({ url: pages.url('/a') })).status).toBe(202)
      await poll(
        async () => pages.hits.get('/a'),
        (hits) => hits === 2,
      ) // bookmarking again refreshes, once
      expect([pages.hits.get('/b'), pages.hits.get('/c'), pages.hits.get('/d'), pages.hits.get('/missing')]).toEqual([1, 1, 1, 1])

      // The log holds every fact, failures included.
      const events = (await readFile(join(dataDir, 'log.ndjson'), 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { type: string; index: number })
      expect(events.map((event) => event.index)).toEqual(events.map((_, index) => index))
      expect(events.filter((event) => event.type === 'info-failed')).toHaveLength(2)
      expect(events.filter((event) => event.type === 'bookmark')).toHaveLength(7)

      service.program.child.kill('SIGTERM')
      expect(await service.program.exited).toBe(0)
    } finally {
      await pages.close()
    }
  }, 90_000)

  it('logs a URL once when two requests for it race, answering the loser with the bookmark that won', async () => {
    const pages = await startPageServer()
    const dataDir = await tempDir('bookmarks')
    try {
      // A long history, so that the read model is still catching up when the
      // requests come: both decide from the same stale version, a real race.
      const history = Array.from({ length: 300_000 }, (_, index) =>
        JSON.stringify({ type: 'info-failed', url: 'https://old.example/', reason: 'offline', index }),
      )
      await mkdir(dataDir, { recursive: true })
      await writeFile(join(dataDir, 'log.ndjson'), `${history.join('\n')}\n`)
      const service = await startService(dataDir)
      const raced = pages.url('/a')
      const [first, second] = await Promise.all([service.postBookmark({ url: raced }), service.postBookmark({ url: raced })])
      const answers = [
        { status: first.status, body: (await first.json()) as { index: number; alreadyBookmarked?: true } },
        { status: second.status, body: (await second.json()) as { index: number; alreadyBookmarked?: true } },
      ]
      const won = answers.filter((answer) => answer.status === 202)
      const lost = answers.filter((answer) => answer.status === 200)
      expect(won).toHaveLength(1)
      expect(lost).toEqual([{ status: 200, body: { index: won[0]!.body.index, alreadyBookmarked: true } }])
      await poll(service.getBookmarks, (value) => settled(value, [raced]))
      const bookmarks = (await readFile(join(dataDir, 'log.ndjson'), 'utf8'))
        .trim()
        .split('\n')
        .slice(300_000)
        .map((line) => JSON.parse(line) as { type: string; url: string; index: number })
        .filter((event) => event.type === 'bookmark')
      expect(bookmarks.map((event) => [event.url, event.index])).toEqual([[raced, won[0]!.body.index]])
      service.program.child.kill('SIGTERM')
      expect(await service.program.exited).toBe(0)
    } finally {
      await pages.close()
    }
  }, 90_000)

  it('answers bad requests with 400, 404 and 405 and keeps running', async () => {
    const dataDir = await tempDir('bookmarks')
    const service = await startService(dataDir)
    const notJson = await service.postBookmark('{"url":')
    expect(notJson.status).toBe(400)
    expect(await notJson.json()).toEqual({ error: expect.stringContaining('not JSON') })
    for (const body of [{}, { url: 42 }, { url: 'not a url' }, { url: 'ftp://example.com/' }]) {
      const response = await service.postBookmark(body)
      expect(response.status).toBe(400)
      expect(await response.json()).toEqual({ error: expect.stringContaining('http:// or https://') })
    }
    expect((await service.postBookmark({ url: 'x'.repeat(20_000) })).status).toBe(413)
    expect((await fetch(service.base.replace('/bookmarks', '/elsewhere'))).status).toBe(404)
    expect((await fetch(service.base, { method: 'DELETE' })).status).toBe(405)
    expect(await service.getBookmarks()).toEqual({ byUrl: {} })
    service.program.child.kill('SIGTERM')
    expect(await service.program.exited).toBe(0)
    expect(service.program.output().trim().split('\n')).toHaveLength(1) // only its greeting
  })

  it('says what to do, and exits, when its port is taken or PORT is not a port', async () => {
    const dataDir = await tempDir('bookmarks')
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = taken.address() as AddressInfo
      const busy = startProgram([serverScript], { env: { PORT: String(port), BOOKMARKS_DATA_DIR: dataDir } })
      running.add(busy)
      expect(await busy.exited).toBe(1)
      expect(busy.output()).toContain(`Port ${port} on 127.0.0.1 is in use: stop what listens there, or start with another PORT (PORT=0 picks a free one)`)
      // It let go of its log on the way out: the next start opens it.
      const service = await startService(dataDir)
      service.program.child.kill('SIGTERM')
      expect(await service.program.exited).toBe(0)
    } finally {
      await new Promise((resolve) => taken.close(resolve))
    }
    const notAPort = startProgram([serverScript], { env: { PORT: 'eighty', BOOKMARKS_DATA_DIR: dataDir } })
    running.add(notAPort)
    expect(await notAPort.exited).toBe(2)
    expect(notAPort.output()).toBe('PORT=eighty is not a port number: give one from 0 to 65535 (0 picks a free one)\n')
  }, 60_000)
})
