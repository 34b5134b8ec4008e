/** The bookmark example's read model, specified with tiny-event-sourcing/testing. */
import { describe, it } from 'vitest'
import { type BookmarkEvent, initialBookmarks, reduceBookmarks } from '../../examples/bookmarks/read-model.mjs'
import { given } from '../../src/testing/index.js'

const at = '2026-12-01T21:30:00.000Z'

describe('the bookmarks read model (examples/bookmarks/read-model.mjs)', () => {
  it('lists a bookmark with its info once fetched', () => {
    given<BookmarkEvent>([
      { type: 'bookmark', url: 'https://a.example/', at },
      { type: 'info', url: 'https://a.example/', title: 'A', faviconUrl: 'https://a.example/a.png' },
    ])
      .reduce(reduceBookmarks, initialBookmarks)
      .expect({
        byUrl: { 'https://a.example/': { url: 'https://a.example/', title: 'A', faviconUrl: 'https://a.example/a.png', error: null, bookmarkedAt: at } },
      })
  })

  it('keeps why a page could not be fetched, and clears it when a later fetch works', () => {
    const failed = given<BookmarkEvent>([
      { type: 'bookmark', url: 'https://b.example/', at },
      { type: 'info-failed', url: 'https://b.example/', reason: 'fetch failed' },
    ]).reduce(reduceBookmarks, initialBookmarks)
    failed.expect({ byUrl: { 'https://b.example/': { url: 'https://b.example/', title: null, faviconUrl: null, error: 'fetch failed', bookmarkedAt: at } } })
    given<BookmarkEvent>([
      { type: 'bookmark', url: 'https://b.example/', at },
      { type: 'info-failed', url: 'https://b.example/', reason: 'fetch failed' },
      { type: 'info', url: 'https://b.example/', title: 'B', faviconUrl: 'https://b.example/favicon.ico' },
    ])
      .reduce(reduceBookmarks, initialBookmarks)
      .expect({
        byUrl: { 'https://b.example/': { url: 'https://b.example/', title: 'B', faviconUrl: 'https://b.example/favicon.ico', error: null, bookmarkedAt: at } },
      })
  })

  it('ignores events it does not know, and the same bookmark twice lists it once', () => {
    given([
      { type: 'bookmark', url: 'https://c.example/', at },
      { type: 'renamed', from: 'x', to: 'y' },
      { type: 'bookmark', url: 'https://c.example/', at },
    ] as BookmarkEvent[])
      .reduce(reduceBookmarks, initialBookmarks)
      .expect({ byUrl: { 'https://c.example/': { url: 'https://c.example/', title: null, faviconUrl: null, error: null, bookmarkedAt: at } } })
  })
})
