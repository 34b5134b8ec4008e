/**
 * examples/browser/index.html, the README's bookmark flow as a page, in real
 * headless Chromium: the page imports the built browser file by URL with a
 * default import (the import map the server rewrites points at it), keeps
 * everything in IndexedDB, survives reloads and browser restarts, and
 * behaves in two tabs as the README says.
 */
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, describe, expect, it, onTestFinished } from 'vitest'
import { unreachableUrl } from '../examples/helpers.js'
import { launchChromium, root, useBrowser, type Chromium } from './harness.js'

interface Bookmark {
  url: string
  title: string | null
  faviconUrl: string | null
}

declare global {
  interface Window {
    app: {
      log: { length: number; events(): AsyncIterableIterator<Record<string, unknown> & { index: number }>; close(): Promise<void> }
      bookmarks: { getState(): { byUrl: Record<string, Bookmark> }; getVersion(): number; flush(): Promise<void> }
      writing: boolean
    }
  }
}

const browser = useBrowser()

/** Screenshots of the page as a user sees it, kept after the run to be looked at. */
const screenshots = mkdtempSync(join(tmpdir(), 'tes-example-screenshots-'))
afterAll(() => console.log(`screenshots of the browser example: ${screenshots}`))
async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true })
}

async function openExample(): Promise<Page> {
  const page = await browser.chromium.context.newPage()
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  await page.goto(`${browser.server.url}/example/`)
  await page
    .waitForFunction(() => window.app !== undefined, undefined, { timeout: 30_000 })
    .catch((error: unknown) => {
      throw new Error(`the example page did not start: ${errors.join('; ') || String(error)}`)
    })
  return page
}

/** Resolves once no tab holds the example's writer lock: a closed tab's lock is released shortly after it closes. */
async function writerLockReleased(): Promise<void> {
  const page = await browser.openHarness()
  await page.waitForFunction(
    async () => {
      const { held } = await navigator.locks.query()
      return !held?.some((lock) => lock.name === 'tiny-event-sourcing:bookmark-service/log.ndjson')
    },
    undefined,
    { timeout: 30_000 },
  )
  await page.close()
}

async function addBookmark(page: Page, url: string): Promise<void> {
  await page.fill('input[name=url]', url)
  await page.click('button')
}

/** The titles the page lists. */
function listedTitles(page: Page): Promise<string[]> {
  return page.$$eval('#bookmarks li a', (links) => links.map((link) => link.textContent ?? ''))
}

/** Waits until the page lists `title` (a bookmark shows its URL until its info event arrives), then gives every title listed. */
async function titlesOnceListed(page: Page, title: string): Promise<string[]> {
  await page.waitForFunction((title) => Array.from(document.querySelectorAll('#bookmarks li a')).some((link) => link.textContent === title), title, {
    timeout: 30_000,
  })
  return listedTitles(page)
}

/** Every event in the page's log, read with a fresh iterator up to its current length. */
async function storedEvents(page: Page): Promise<Array<Record<string, unknown>>> {
  return page.evaluate(async () => {
    const events: Array<Record<string, unknown>> = []
    const length = window.app.log.length
    if (length === 0) return events
    for await (const event of window.app.log.events()) {
      events.push(event)
      if (event.index === length - 1) break
    }
    return events
  })
}

describe('the browser example (the README bookmark flow)', () => {
  it('runs the flow, and a reload finds the log and the read models where it left them', async () => {
    const page = await openExample()
    onTestFinished(async () => {
      await page.close()
      await writerLockReleased()
    })
    expect(await page.evaluate(() => window.app.writing)).toBe(true)
    expect(await page.isVisible('#empty'), 'an empty list says so').toBe(true)
    expect(await page.textContent('#empty')).toContain('No bookmarks yet')
    await screenshot(page, '1-empty')
    await addBookmark(page, 'https://example.com/')
    expect(await titlesOnceListed(page, 'example.com')).toEqual(['example.com'])
    expect(await page.isVisible('#empty')).toBe(false)
    await addBookmark(page, 'https://example.org/docs')
    expect(await titlesOnceListed(page, 'example.org/docs')).toEqual(['example.com', 'example.org/docs'])
    // Four events: each bookmark, and the info the fetcher appended for it.
    await page.waitForFunction(() => window.app.log.length === 4)
    // Each with the time it was appended, as every event has.
    const _meta = { at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) }
    expect(await storedEvents(page)).toEqual([
      { type: 'bookmark', url: 'https://example.com/', _meta, index: 0 },
      { type: 'info', url: 'https://example.com/', title: 'example.com', faviconUrl: 'https://example.com/favicon.ico', _meta, index: 1 },
      { type: 'bookmark', url: 'https://example.org/docs', _meta, index: 2 },
      { type: 'info', url: 'https://example.org/docs', title: 'example.org/docs', faviconUrl: 'https://example.org/favicon.ico', _meta, index: 3 },
    ])
    await page.waitForFunction(() => window.app.bookmarks.getVersion() === 3)
    await page.evaluate(() => window.app.bookmarks.flush())
    // In IndexedDB the read model is the envelope a state file would hold.
    const stored = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('tiny-event-sourcing')
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
      const text = await new Promise<unknown>((resolve, reject) => {
        const request = db.transaction('snapshots').objectStore('snapshots').get('bookmark-service/bookmarks.json')
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
      db.close()
      return text
    })
    expect(JSON.parse(stored as string)).toMatchObject({
      _version: 3,
      _projection: 1,
      state: { byUrl: { 'https://example.com/': { title: 'example.com' } } },
    })

    await page.reload()
    await page.waitForFunction(() => window.app !== undefined)
    expect(await page.evaluate(() => window.app.writing)).toBe(true)
    // The read model comes back from IndexedDB at the version it reached, before any replay.
    expect(await page.evaluate(() => window.app.bookmarks.getVersion())).toBe(3)
    expect(await listedTitles(page)).toEqual(['example.com', 'example.org/docs'])
    // Nothing was processed twice: still four events.
    expect(await page.evaluate(() => window.app.log.length)).toBe(4)

    await addBookmark(page, 'https://example.net/')
    expect(await titlesOnceListed(page, 'example.net')).toEqual(['example.com', 'example.org/docs', 'example.net'])
    await page.waitForFunction(() => window.app.log.length === 6)
    await screenshot(page, '2-three-bookmarks')
  })

  it('lets a second tab follow the writing tab live, and take over when it closes', async () => {
    const writer = await openExample()
    const follower = await openExample()
    onTestFinished(async () => {
      await writer.close()
      await follower.close()
    })
    expect(await writer.evaluate(() => window.app.writing)).toBe(true)
    expect(await follower.evaluate(() => window.app.writing)).toBe(false)
    expect(await follower.textContent('#status')).toContain('Another tab is writing')
    expect(await follower.isDisabled('input[name=url]')).toBe(true)
    await screenshot(follower, '3-following-tab')
    const before = await follower.evaluate(() => Object.keys(window.app.bookmarks.getState().byUrl).length)

    await addBookmark(writer, 'https://example.com/two-tabs')
    const titles = await titlesOnceListed(follower, 'example.com/two-tabs')
    expect(titles).toHaveLength(before + 1)

    // The follower reloads itself once the writing tab's lock is released.
    await writer.close()
    await follower.waitForFunction(() => window.app?.writing === true, undefined, { timeout: 30_000 })
    expect(await follower.isDisabled('input[name=url]')).toBe(false)
    expect(await titlesOnceListed(follower, 'example.com/two-tabs')).toHaveLength(before + 1)
  })
})

describe('the browser example when something goes wrong, as a user sees it', () => {
  /** Serves examples/browser/index.html from a server of its own, its import map pointing at `libraryUrl`, and opens it. */
  async function openWithLibraryAt(libraryUrl: string): Promise<Page> {
    const html = readFileSync(join(root, 'examples', 'browser', 'index.html'), 'utf8').replace(
      /"tiny-event-sourcing":\s*"[^"]*"/,
      `"tiny-event-sourcing": ${JSON.stringify(libraryUrl)}`,
    )
    expect(html).toContain(libraryUrl)
    const server = await listen(createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html)))
    const page = await browser.chromium.context.newPage()
    onTestFinished(async () => {
      await page.close()
      await server.close()
    })
    await page.goto(server.url)
    return page
  }

  /** Starts `server` on a free loopback port. */
  async function listen(server: Server): Promise<{ url: string; close(): Promise<void> }> {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        }),
    }
  }

  it('says the library could not be loaded, from where, and what to do, when the CDN is unreachable', async () => {
    const nowhere = `${await unreachableUrl()}/tiny-event-sourcing.js`
    const page = await openWithLibraryAt(nowhere)
    await page.waitForSelector('#status.error', { timeout: 30_000 })
    const status = (await page.textContent('#status'))!
    expect(status).toContain('Could not load tiny-event-sourcing.')
    expect(status).toContain(nowhere)
    expect(status).toContain('Check your connection')
    expect(status).not.toContain('Opening the log')
    expect(await page.isDisabled('button')).toBe(true)
    await screenshot(page, '4-library-unreachable')
  })

  it('says it is still loading, and from where, when the CDN does not answer', async () => {
    // A server that accepts the request and never answers it.
    const waiting = await listen(createServer(() => {}))
    onTestFinished(() => waiting.close())
    const silent = `${waiting.url}tiny-event-sourcing.js`
    const page = await openWithLibraryAt(silent)
    expect(await page.textContent('#status')).toContain('Loading tiny-event-sourcing')
    await page.waitForFunction(() => document.querySelector('#status')?.textContent?.startsWith('Still loading'), undefined, { timeout: 30_000 })
    expect(await page.textContent('#status')).toContain(silent)
    await screenshot(page, '5-library-slow')
  })

  it('says when a URL is already bookmarked, and adds it only once', async () => {
    const page = await openExample()
    onTestFinished(async () => {
      await page.close()
      await writerLockReleased()
    })
    await addBookmark(page, 'https://example.com/again')
    await titlesOnceListed(page, 'example.com/again')
    // Listed with its title: its info event is in the log too.
    const length = await page.evaluate(() => window.app.log.length)

    await addBookmark(page, 'https://example.com/again')
    await page.waitForSelector('#message.note')
    expect(await page.textContent('#message')).toBe('example.com/again is already in your bookmarks.')
    expect(await page.textContent('#bookmarks li.again a')).toBe('example.com/again')
    expect(await page.inputValue('input[name=url]'), 'the address stays in the box').toBe('https://example.com/again')
    await screenshot(page, '6-already-bookmarked')
    expect(await page.evaluate(() => window.app.log.length)).toBe(length)
  })

  it('shows why an append failed, and keeps the address in the box', async () => {
    const page = await openExample()
    onTestFinished(async () => {
      await page.close()
      await writerLockReleased()
    })
    // The log refuses appends once closed (LOG_CLOSED): the page's append fails as a real failure would.
    await page.evaluate(() => window.app.log.close())
    await addBookmark(page, 'https://example.com/refused')
    await page.waitForSelector('#message.error')
    const said = (await page.textContent('#message'))!
    expect(said).toMatch(/^Could not add https:\/\/example\.com\/refused: /)
    expect(said).toContain('closed')
    expect(await page.inputValue('input[name=url]')).toBe('https://example.com/refused')
    await screenshot(page, '7-append-failed')
  })

  it('gives the button the font of the input', async () => {
    const page = await openExample()
    onTestFinished(async () => {
      await page.close()
      await writerLockReleased()
    })
    const fonts = await page.evaluate(() =>
      ['input', 'button'].map((selector) => {
        const style = getComputedStyle(document.querySelector(selector)!)
        return { family: style.fontFamily, size: style.fontSize, weight: style.fontWeight, lineHeight: style.lineHeight }
      }),
    )
    expect(fonts[1]).toEqual(fonts[0])
    expect(fonts[0]!.size).toBe('16px')
  })
})

describe('persistence across a browser restart', () => {
  it('finds the log and read model after Chromium is closed and launched again on the same profile', async () => {
    const first = await launchChromium()
    let second: Chromium | undefined
    try {
      const page = await first.context.newPage()
      await page.goto(`${browser.server.url}/example/`)
      await page.waitForFunction(() => window.app !== undefined)
      await addBookmark(page, 'https://example.com/restart')
      await titlesOnceListed(page, 'example.com/restart')
      await page.waitForFunction(() => window.app.log.length === 2)
      await page.close() // a closed tab flushes nothing on purpose: the read model must come back from the log if need be
      await first.close()

      second = await launchChromium(first.userDataDir)
      const again = await second.context.newPage()
      await again.goto(`${browser.server.url}/example/`)
      await again.waitForFunction(() => window.app !== undefined)
      expect(await titlesOnceListed(again, 'example.com/restart')).toEqual(['example.com/restart'])
      expect(await again.evaluate(() => window.app.log.length)).toBe(2)
    } finally {
      await (second ?? first).dispose()
    }
  })
})
