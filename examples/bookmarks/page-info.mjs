// Reads a web page's title and favicon URL, with fetch and a few regular
// expressions: enough for an example, not an HTML parser.

const entities = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' }

function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10)
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole
    }
    return entities[name.toLowerCase()] ?? whole
  })
}

function attributesOf(tag) {
  const attributes = {}
  for (const [, name, , doubleQuoted, singleQuoted, bare] of tag.matchAll(/([^\s=/>]+)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))/g)) {
    attributes[name.toLowerCase()] = decodeEntities(doubleQuoted ?? singleQuoted ?? bare)
  }
  return attributes
}

/** The page's `<title>`, tidied, or `undefined`. */
export function findTitle(html) {
  const match = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html)
  const title = match && decodeEntities(match[1]).replace(/\s+/g, ' ').trim()
  return title || undefined
}

/** The absolute URL of the first `<link rel="… icon …" href>`, or the site's `/favicon.ico`. */
export function findFaviconUrl(html, pageUrl) {
  for (const [tag] of html.matchAll(/<link\b[^>]*>/gi)) {
    const { rel = '', href } = attributesOf(tag)
    if (href && rel.toLowerCase().split(/\s+/).includes('icon')) return new URL(href, pageUrl).href
  }
  return new URL('/favicon.ico', pageUrl).href
}

/**
 * Fetches `url` and resolves with `{ title, faviconUrl }` (the title falls
 * back to the URL). Rejects when the page cannot be fetched or answers with
 * an error status, or when `signal` aborts.
 */
export async function fetchPageInfo(url, { signal } = {}) {
  const response = await fetch(url, { signal, headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } })
  if (!response.ok) {
    await response.body?.cancel()
    throw new Error(`${url} answered ${response.status} ${response.statusText}`.trim())
  }
  const html = await response.text()
  // After redirects, relative links are relative to where the page really is.
  const pageUrl = response.url || url
  return { title: findTitle(html) ?? url, faviconUrl: findFaviconUrl(html, pageUrl) }
}
