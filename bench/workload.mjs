// The shared workload of the benchmark: the event every scenario writes and
// reads, the data files, and the measuring helpers every child process uses.
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'

/** An event of ~120 bytes once stored as an NDJSON line with its index. */
export function makeEvent(n) {
  return { type: 'bookmarked', url: `https://example.com/a/${n}`, title: `Article ${n} on ES`, at: 1700000000000 + n }
}

/** The exact line the library stores for event `n`. */
export function storedLine(n) {
  return JSON.stringify({ ...makeEvent(n), index: n })
}

/** The line the library stores for event `n` with its `_meta` (a time a millisecond apart per event). */
export function storedLineWithMeta(n) {
  return JSON.stringify({ ...makeEvent(n), _meta: { at: new Date(1700000000000 + n).toISOString() }, index: n })
}

/** Writes an NDJSON log of `count` events in the library's format: without `_meta` (as 0.2.x wrote), or with it. */
export async function writeLogFile(filename, count, { metadata = false } = {}) {
  const out = createWriteStream(filename)
  const line = metadata ? storedLineWithMeta : storedLine
  let text = ''
  for (let n = 0; n < count; n++) {
    text += `${line(n)}\n`
    if (text.length > 1 << 20) {
      if (!out.write(text)) await once(out, 'drain')
      text = ''
    }
  }
  out.end(text)
  await once(out, 'finish')
}

/**
 * Tracks the peak resident set size while a scenario runs: sampled every
 * `every` calls of `tick()` and at `stop()`, so the peak of a setup phase
 * that ran before `start()` does not count.
 */
export function rssTracker(every = 4096) {
  let base = 0
  let peak = 0
  let calls = 0
  const sample = () => {
    const rss = process.memoryUsage.rss()
    if (rss > peak) peak = rss
  }
  return {
    start() {
      globalThis.gc?.()
      base = process.memoryUsage.rss()
      peak = base
    },
    tick() {
      if (++calls % every === 0) sample()
    },
    stop() {
      sample()
      return peak - base
    },
  }
}

export const now = () => performance.now()

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[at]
}

/** The bookmarks read model's event: page information for one of `urls` distinct URLs (~130 bytes stored). */
export function makeInfoEvent(n, urls) {
  const page = n % urls
  return {
    type: 'info',
    url: `https://example.com/articles/${page}`,
    title: `Article ${page}, revision ${Math.floor(n / urls)}`,
    faviconUrl: `https://example.com/icons/${page % 100}.ico`,
  }
}

/** Writes an NDJSON log of `count` info events over `urls` distinct URLs, in the library's format. */
export async function writeInfoLogFile(filename, count, urls) {
  const out = createWriteStream(filename)
  let text = ''
  for (let n = 0; n < count; n++) {
    text += `${JSON.stringify({ ...makeInfoEvent(n, urls), index: n })}\n`
    if (text.length > 1 << 20) {
      if (!out.write(text)) await once(out, 'drain')
      text = ''
    }
  }
  out.end(text)
  await once(out, 'finish')
}

/**
 * The README's reducer, changing the state in place: each event costs the
 * same however many pages the read model holds.
 */
export function reduceBookmarks(state, event) {
  if (event.type !== 'info') return state
  const { url, title, faviconUrl } = event
  state.byUrl[url] = { url, title, faviconUrl }
  return state
}

/** The seed's reducer: a new state per event, copying every page each time. */
export function reduceBookmarksBySpreading(state, event) {
  if (event.type !== 'info') return state
  const { url, title, faviconUrl } = event
  return { ...state, byUrl: { ...state.byUrl, [url]: { url, title, faviconUrl } } }
}
