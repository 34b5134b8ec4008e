// The bookmark service of the README, as a program you can run: `npm start`.
//
//   curl -i -X POST localhost:3000/bookmarks -H 'content-type: application/json' -d '{"url":"https://example.com/"}'
//   curl localhost:3000/bookmarks
//
// Environment: PORT (default 3000; 0 picks a free one), HOST (default
// 127.0.0.1), BOOKMARKS_DATA_DIR (default <os tmpdir>/tiny-event-sourcing-bookmarks).
// Stop it with Ctrl-C; start it again and it carries on where it stopped.

import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { catchupSubscribe, fsStoreBackend, initLog, initStateStore, project } from 'tiny-event-sourcing'
import { infoFetcherHandler } from './info-fetcher.mjs'
import { fetchPageInfo } from './page-info.mjs'
import { initialBookmarks, reduceBookmarks } from './read-model.mjs'

const dataDir = process.env.BOOKMARKS_DATA_DIR || join(tmpdir(), 'tiny-event-sourcing-bookmarks')
const port = Number(process.env.PORT || 3000)
const host = process.env.HOST || '127.0.0.1'
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT=${process.env.PORT} is not a port number: give one from 0 to 65535 (0 picks a free one)`)
  process.exit(2)
}
const fetchTimeoutMs = 10_000
const maxBodyBytes = 16 * 1024

// Events:
//   { type: 'bookmark', url, at }             a user bookmarked a page
//   { type: 'info', url, title, faviconUrl }  the page was fetched
//   { type: 'info-failed', url, reason }      the page could not be fetched
const log = await initLog({ filename: join(dataDir, 'log.ndjson') })

// The read model GET /bookmarks serves, kept by the projection helper.
const bookmarks = await initStateStore({
  storeBackend: fsStoreBackend(join(dataDir, 'bookmarks.json'), initialBookmarks),
})

// The info fetcher keeps no state, only how far it got (its version).
const infoFetcher = await initStateStore({
  storeBackend: fsStoreBackend(join(dataDir, 'info-fetcher.json'), {}),
})

const shutdown = new AbortController()

// Bump `version` when reduceBookmarks changes meaning: the read model is rebuilt from the log.
const projecting = project({ log, store: bookmarks, reduce: reduceBookmarks, version: 1, signal: shutdown.signal })

// The info fetcher starts after the last event it handled. What it learns
// goes into the log as events caused by the bookmark (`append` records the
// cause), and `appends` names them: a bookmark whose info reached the log
// before a crash, even one a moment before its version was saved, is not
// fetched again.
const fetchInfo = infoFetcherHandler({ fetchPageInfo, signal: shutdown.signal, timeoutMs: fetchTimeoutMs })
const fetching = catchupSubscribe(
  log.events({ after: infoFetcher.getVersion(), signal: shutdown.signal }),
  async (event, context) => {
    // Stopping mid-fetch: leave the event unhandled, the next start fetches it.
    if (!(await fetchInfo(event, context))) return
    infoFetcher.update(infoFetcher.getState(), event.index)
  },
  { signal: shutdown.signal, appends: { types: ['info', 'info-failed'] } },
)

for (const [name, running] of [
  ['projection', projecting],
  ['info fetcher', fetching],
]) {
  running.catch((error) => {
    console.error(`The ${name} stopped: ${error.stack ?? error}`)
    process.exit(1)
  })
}

function send(response, status, body) {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
  response.end(body === undefined ? undefined : `${JSON.stringify(body)}\n`)
}

async function readJson(request) {
  let text = ''
  for await (const chunk of request.setEncoding('utf8')) {
    text += chunk
    if (text.length > maxBodyBytes) throw Object.assign(new Error(`the body is larger than ${maxBodyBytes} bytes`), { status: 413 })
  }
  try {
    return JSON.parse(text)
  } catch {
    throw Object.assign(new Error('the body is not JSON; send {"url":"https://…"}'), { status: 400 })
  }
}

function bookmarkUrl(body) {
  const url = URL.canParse(body?.url) ? new URL(body.url) : undefined
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw Object.assign(new Error('send {"url":"…"} with an http:// or https:// URL'), { status: 400 })
  }
  return url.href
}

const server = createServer(async (request, response) => {
  try {
    const path = new URL(request.url, 'http://localhost').pathname
    if (path !== '/bookmarks') return send(response, 404, { error: 'not found; try GET or POST /bookmarks' })
    if (request.method === 'GET') return send(response, 200, bookmarks.getState())
    if (request.method !== 'POST') {
      response.setHeader('allow', 'GET, POST')
      return send(response, 405, { error: 'use GET or POST' })
    }
    const url = bookmarkUrl(await readJson(request))
    // Requests for the same URL may race. The append is refused if a bookmark
    // of it was logged after the events the read model reflects (the version
    // this request decided from), so a race logs the URL once; the loser
    // answers with the bookmark that won. Bookmarking again later refreshes.
    try {
      const condition = { types: ['bookmark'], where: { url }, after: bookmarks.getVersion() }
      const { index } = await log.append({ type: 'bookmark', url, at: new Date().toISOString() }, { condition })
      send(response, 202, { index })
    } catch (error) {
      if (error.code !== 'APPEND_CONFLICT') throw error
      send(response, 200, { index: error.conflictingEvent.index, alreadyBookmarked: true })
    }
  } catch (error) {
    if (!response.headersSent) send(response, error.status ?? 500, { error: error.message })
  }
})

server.on('error', (error) => {
  console.error(
    error.code === 'EADDRINUSE'
      ? `Port ${port} on ${host} is in use: stop what listens there, or start with another PORT (PORT=0 picks a free one)`
      : `The server could not listen on ${host}:${port}: ${error.message}`,
  )
  void stop(1)
})

server.listen(port, host, () => {
  const { port: actualPort } = server.address()
  console.log(`Bookmarks service on http://${host}:${actualPort}/bookmarks (data in ${dataDir})`)
})

async function stop(exitCode = 0) {
  server.close()
  shutdown.abort()
  await Promise.allSettled([projecting, fetching])
  await log.close()
  await Promise.all([bookmarks.close(), infoFetcher.close()])
  process.exit(exitCode)
}
process.once('SIGINT', () => stop())
process.once('SIGTERM', () => stop())
