/** Types of read-model.mjs, for the TypeScript examples and tests. */
import type { Indexed } from 'tiny-event-sourcing'

export type BookmarkEvent =
  | { type: 'bookmark'; url: string; at: string }
  | { type: 'info'; url: string; title: string; faviconUrl: string }
  | { type: 'info-failed'; url: string; reason: string }

export interface Bookmark {
  url: string
  title: string | null
  faviconUrl: string | null
  error: string | null
  bookmarkedAt?: string
}

export interface Bookmarks {
  byUrl: Record<string, Bookmark>
}

export const initialBookmarks: Bookmarks
export function reduceBookmarks(state: Bookmarks, event: Indexed<BookmarkEvent>): Bookmarks
