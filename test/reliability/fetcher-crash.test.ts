/**
 * The bookmark service's info fetcher (examples/bookmarks/server.mjs, as
 * `npm start` runs it) killed with SIGKILL at random instants, over many
 * rounds, then left to finish: every bookmark ends with exactly one `info` or
 * `info-failed`, caused by it, and a page is fetched again only for a kill that
 * came before its append reached the log.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { initLog } from '../../src/index.js'
import { distEntry } from '../helpers/dist.js'
import { startProgram } from '../examples/helpers.js'
import { readWholeLog, rounds, sleep, tempDir } from './harness.js'

const serverScript = new URL('../../examples/bookmarks/server.mjs', import.meta.url).pathname

type Stored = { type: string; url: string; index: number; _meta?: { causedBy?: number } }

/** Pages `/page/<n>` that answer after a few milliseconds (every fifth with a 404), counting the requests for each. */
async function startSlowPages(): Promise<{ url: (n: number) => string; hits: Map<string, number>; close: () => Promise<void> }> {
  const hits = new Map<string, number>()
  const server: Server = createServer((request, response) => {
    const path = request.url ?? '/'
    hits.set(path, (hits.get(path) ?? 0) + 1)
    const n = Number(/^\/page\/(\d+)$/.exec(path)?.[1])
    // Slow enough that kills land in the middle of fetches, not only between them.
    setTimeout(
      () => {
        if (n % 5 === 4) response.writeHead(404, { 'content-type': 'text/plain' }).end('gone')
        else response.writeHead(200, { 'content-type': 'text/html' }).end(`<html><head><title>Page ${n}</title></head></html>`)
      },
      20 + Math.floor(Math.random() * 40),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: (n) => `http://127.0.0.1:${port}/page/${n}`,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** The events of the service's log, read while no service runs. */
function readLog(dataDir: string): Promise<Stored[]> {
  return readWholeLog<Stored>(join(dataDir, 'log.ndjson'))
}

const answered = (events: Stored[]) => events.filter((event) => event.type === 'info' || event.type === 'info-failed')

describe('the bookmark info fetcher killed with SIGKILL at any instant', () => {
  it('ends with exactly one info or info-failed per bookmark, and refetches a page only for a kill before its append landed', async () => {
    distEntry() // the example imports the built package
    const pages = await startSlowPages()
    const bookmarkCount = 60
    const killRounds = rounds(12, 150)
    try {
      const dataDir = await tempDir('fetcher-crash')
      const seed = await initLog({ filename: join(dataDir, 'log.ndjson') })
      for (let n = 0; n < bookmarkCount; n++) await seed.append({ type: 'bookmark', url: pages.url(n), at: new Date().toISOString() })
      await seed.close()

      let kills = 0
      let killedMidFetch = 0
      for (let round = 0; round < killRounds; round++) {
        const before = pages.hits.size === 0 ? 0 : [...pages.hits.values()].reduce((sum, hits) => sum + hits, 0)
        const service = startProgram([serverScript], { env: { PORT: '0', BOOKMARKS_DATA_DIR: dataDir } })
        if (round % 3 === 0) {
          // Anywhere from while Node starts, through opening the log and the scan for earlier appends…
          await sleep(Math.floor(Math.random() * 600))
        } else {
          // …or once it listens, when the fetcher is at work: in a fetch, an append, a version save.
          await service.waitFor(/Bookmarks service on/)
          await sleep(Math.floor(Math.random() * 250))
        }
        const exited = service.exited
        service.child.kill('SIGKILL')
        await exited
        kills++
        const after = [...pages.hits.values()].reduce((sum, hits) => sum + hits, 0)
        if (after > before) killedMidFetch++
      }

      // A last run, left alone until every bookmark is answered, then stopped as Ctrl-C would.
      const service = startProgram([serverScript], { env: { PORT: '0', BOOKMARKS_DATA_DIR: dataDir } })
      const [, base] = await service.waitFor(/Bookmarks service on (http:\/\/\S+\/bookmarks)/)
      for (;;) {
        const model = (await (await fetch(base!)).json()) as { byUrl: Record<string, { title: string | null; error: string | null }> }
        const done = Object.values(model.byUrl).filter((bookmark) => bookmark.title !== null || bookmark.error !== null)
        if (done.length === bookmarkCount) break
        await sleep(50)
      }
      service.child.kill('SIGTERM')
      expect(await service.exited).toBe(0)

      const events = await readLog(dataDir)
      const bookmarks = events.filter((event) => event.type === 'bookmark')
      expect(bookmarks).toHaveLength(bookmarkCount)
      const answers = answered(events)
      // Exactly one answer per bookmark, each caused by it: no duplicates, none missing.
      const perBookmark = new Map<number, number>()
      for (const answer of answers) perBookmark.set(answer._meta!.causedBy!, (perBookmark.get(answer._meta!.causedBy!) ?? 0) + 1)
      const duplicates = [...perBookmark.values()].filter((count) => count > 1).length
      expect({ duplicates, answers: answers.length }).toEqual({ duplicates: 0, answers: bookmarkCount })
      expect([...perBookmark.keys()].sort((a, b) => a - b)).toEqual(bookmarks.map((bookmark) => bookmark.index))
      for (const answer of answers) expect(answer.url).toBe(events[answer._meta!.causedBy!]!.url)
      expect(answers.filter((answer) => answer.type === 'info-failed')).toHaveLength(bookmarkCount / 5)

      // Every page was fetched; one fetched again only because a kill stopped
      // the fetcher before that page's answer reached the log, which happens
      // at most once per kill (it fetches one page at a time).
      const fetches = [...pages.hits.values()].reduce((sum, hits) => sum + hits, 0)
      const refetches = fetches - bookmarkCount
      expect(pages.hits.size).toBe(bookmarkCount)
      expect(refetches).toBeGreaterThanOrEqual(0)
      expect(refetches).toBeLessThanOrEqual(kills)
      console.log(
        `fetcher crash: ${kills} kills (${killedMidFetch} of them after pages were fetched), ${bookmarkCount} bookmarks, ${fetches} fetches (${refetches} again after a kill), 0 duplicates`,
      )
    } finally {
      await pages.close()
    }
  }, 600_000)
})
