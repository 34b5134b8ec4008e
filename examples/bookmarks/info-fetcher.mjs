// What the info fetcher of the example service (server.mjs) does with one
// event: for a bookmark, the page's title and icon (or why they could not be
// had) go into the log, caused by the bookmark.

/**
 * The info fetcher's handler, for `catchupSubscribe`. Resolves `false` when
 * the program stopped in the middle of a fetch: the bookmark is left
 * unhandled, and the next start fetches it.
 */
export function infoFetcherHandler({ fetchPageInfo, signal, timeoutMs }) {
  return async (event, { append }) => {
    if (event.type !== 'bookmark') return true
    let info
    try {
      info = {
        type: 'info',
        url: event.url,
        ...(await fetchPageInfo(event.url, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) })),
      }
    } catch (error) {
      if (signal.aborted) return false
      info = { type: 'info-failed', url: event.url, reason: String(error?.cause?.message ?? error?.message ?? error) }
    }
    await append(info)
    return true
  }
}
