// Specs for the bookmark service's read model, upcaster and info fetcher.
// Run with `node --test` (Node 22.6+ strips the types), or under vitest or
// jest: the helpers throw plain assertion errors, whatever the runner.
import { describe, it } from 'node:test'
import type { Indexed } from 'tiny-event-sourcing'
import { assertDeterministic, given } from 'tiny-event-sourcing/testing'
import { infoFetcherHandler } from '../bookmarks/info-fetcher.mjs'
import { type BookmarkEvent, initialBookmarks, reduceBookmarks } from '../bookmarks/read-model.mjs'

const at = '2026-12-01T21:30:00.000Z'

describe('the bookmarks read model', () => {
  it('lists a bookmark with its info once fetched', () => {
    given<BookmarkEvent>([
      { type: 'bookmark', url: 'https://a.example/', at },
      { type: 'info', url: 'https://a.example/', title: 'A', faviconUrl: 'https://a.example/a.png' },
    ])
      .reduce(reduceBookmarks, initialBookmarks)
      .expect({
        byUrl: {
          'https://a.example/': { url: 'https://a.example/', title: 'A', faviconUrl: 'https://a.example/a.png', error: null, bookmarkedAt: at },
        },
      })
  })

  it('is deterministic over a day of events', () => {
    const day: BookmarkEvent[] = [
      { type: 'bookmark', url: 'https://a.example/', at },
      { type: 'info-failed', url: 'https://a.example/', reason: 'fetch failed' },
      { type: 'info', url: 'https://a.example/', title: 'A', faviconUrl: 'https://a.example/a.png' },
    ]
    assertDeterministic(reduceBookmarks, initialBookmarks, day)
  })
})

// Bookmarks were first stored as { type, url }; they are now { type, payload: { url } }.
type StoredBookmark = { type: 'bookmark'; url: string } | { type: 'bookmark'; payload: { url: string } }
type Bookmark = { type: 'bookmark'; payload: { url: string } }

function upcast(stored: Indexed<StoredBookmark>): Bookmark {
  return 'payload' in stored ? stored : { type: 'bookmark', payload: { url: stored.url } }
}

describe('the upcaster', () => {
  it('turns the old shape into the new one, and leaves the new one alone', async () => {
    await given<StoredBookmark>([
      { type: 'bookmark', url: 'https://a.example/' },
      { type: 'bookmark', payload: { url: 'https://b.example/' } },
    ])
      .upcast(upcast)
      .expect([
        { type: 'bookmark', payload: { url: 'https://a.example/' } },
        { type: 'bookmark', payload: { url: 'https://b.example/' } },
      ])
  })
})

describe('the info fetcher', () => {
  it('appends the info of each bookmark, caused by it', async () => {
    const fetchPageInfo = async (url: string) => ({ title: `Page ${new URL(url).hostname}`, faviconUrl: new URL('/favicon.ico', url).href })
    const fetchInfo = infoFetcherHandler({ fetchPageInfo, signal: new AbortController().signal, timeoutMs: 1000 })
    await given<BookmarkEvent>([{ type: 'bookmark', url: 'https://a.example/', at }])
      .handle(() => fetchInfo)
      .expectAppended([{ type: 'info', url: 'https://a.example/', title: 'Page a.example', faviconUrl: 'https://a.example/favicon.ico' }])
  })
})
