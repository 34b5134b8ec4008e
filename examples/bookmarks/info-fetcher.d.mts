/** Types of info-fetcher.mjs, for the TypeScript examples and tests. */
import type { HandlerContext, Indexed } from 'tiny-event-sourcing'
import type { BookmarkEvent } from './read-model.mjs'

export function infoFetcherHandler(options: {
  fetchPageInfo: (url: string, options: { signal: AbortSignal }) => Promise<{ title: string; faviconUrl: string }>
  signal: AbortSignal
  timeoutMs: number
}): (event: Indexed<BookmarkEvent>, context: HandlerContext<Indexed<BookmarkEvent>>) => Promise<boolean>
