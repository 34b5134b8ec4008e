// The bookmarks read model of the example service (server.mjs): what
// GET /bookmarks serves, built from the log by `project`.
//
//   { byUrl: { [url]: { url, title, faviconUrl, error, bookmarkedAt } } }

/** The read model before any event. */
export const initialBookmarks = { byUrl: {} }

function withBookmark(state, url, changes) {
  const bookmark = state.byUrl[url] ?? { url, title: null, faviconUrl: null, error: null }
  return { ...state, byUrl: { ...state.byUrl, [url]: { ...bookmark, ...changes } } }
}

/** The bookmarks read model: pure, so replaying the log always gives the same result. */
export function reduceBookmarks(state, event) {
  switch (event.type) {
    case 'bookmark':
      return withBookmark(state, event.url, { bookmarkedAt: event.at })
    case 'info':
      return withBookmark(state, event.url, { title: event.title, faviconUrl: event.faviconUrl, error: null })
    case 'info-failed':
      return withBookmark(state, event.url, { error: event.reason })
    default:
      return state
  }
}
