/** The bookmark example's info fetcher, specified with tiny-event-sourcing/testing. */
import { describe, expect, it } from 'vitest'
import { infoFetcherHandler } from '../../examples/bookmarks/info-fetcher.mjs'
import type { BookmarkEvent } from '../../examples/bookmarks/read-model.mjs'
import { given } from '../../src/testing/index.js'

const at = '2026-12-01T21:30:00.000Z'
const pages: Record<string, { title: string; faviconUrl: string }> = {
  'https://a.example/': { title: 'A', faviconUrl: 'https://a.example/a.png' },
}
async function fetchPageInfo(url: string) {
  const page = pages[url]
  if (page === undefined) throw new Error('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND') })
  return page
}
const handler = (signal = new AbortController().signal) => infoFetcherHandler({ fetchPageInfo, signal, timeoutMs: 1000 })

describe('the info fetcher (examples/bookmarks/info-fetcher.mjs)', () => {
  it('appends the info of each bookmark, caused by it, and why a page could not be fetched', async () => {
    const spec = given<BookmarkEvent>([
      { type: 'bookmark', url: 'https://a.example/', at },
      { type: 'bookmark', url: 'https://gone.example/', at },
    ]).handle(() => handler())
    await spec.expectAppended([
      { type: 'info', url: 'https://a.example/', title: 'A', faviconUrl: 'https://a.example/a.png' },
      { type: 'info-failed', url: 'https://gone.example/', reason: 'getaddrinfo ENOTFOUND' },
    ])
    expect((await spec.appended()).map((event) => event._meta?.causedBy)).toEqual([0, 1])
  })

  it('appends nothing for the events it does not fetch for', async () => {
    await given<BookmarkEvent>([
      { type: 'info', url: 'https://a.example/', title: 'A', faviconUrl: 'https://a.example/a.png' },
      { type: 'info-failed', url: 'https://b.example/', reason: 'timeout' },
    ])
      .handle(() => handler())
      .expectAppended([])
  })

  it('appends nothing when the program is stopping during the fetch', async () => {
    const stopping = new AbortController()
    stopping.abort()
    await given<BookmarkEvent>([{ type: 'bookmark', url: 'https://gone.example/', at }])
      .handle(() => handler(stopping.signal))
      .expectAppended([])
  })
})
