interface BookmarkEvent {
  type: 'bookmark'
  url: string
}

interface InfoEvent {
  type: 'info'
  url: string
  title: string
  faviconUrl: string
}

interface InfoFailedEvent {
  type: 'info-failed'
  url: string
  reason: string
}

type DomainEvent = BookmarkEvent | InfoEvent | InfoFailedEvent

import pg from 'pg'
import { initLog } from 'tiny-event-sourcing'
import { postgresStorage } from 'tiny-event-sourcing/postgres'

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })

const log = await initLog<DomainEvent>({
  storage: postgresStorage({ pool, log: 'bookmarks' }),
})

interface BookmarksReadModel {
  byUrl: {
    [url: string]: {
      url: string
      title: string
      faviconUrl: string
    }
  }
}

interface InfoFetcherReadModel {
  // no state of its own: only its version matters
}

import { initStateStore } from 'tiny-event-sourcing'
import { postgresStoreBackend } from 'tiny-event-sourcing/postgres'

const bookmarksReadModel = await initStateStore<BookmarksReadModel>({
  storeBackend: postgresStoreBackend<BookmarksReadModel>({ pool, name: 'bookmarks', initialState: { byUrl: {} } }),
})

const infoFetcherReadModel = await initStateStore<InfoFetcherReadModel>({
  storeBackend: postgresStoreBackend<InfoFetcherReadModel>({ pool, name: 'info-fetcher', initialState: {} }),
})

import { catchupSubscribe } from 'tiny-event-sourcing'
import { fetchPageInfo } from './page-info.mjs'

// When a "bookmark" event arrives, fetch the page's information
// and append it to the log as an "info" event.

catchupSubscribe(log.events(), async (event) => {
  // Skip the events this subscriber processed before a restart

  if (event.index <= infoFetcherReadModel.getVersion()) {
    return
  }

  if (event.type === 'bookmark') {
    const { url } = event
    try {
      const { title, faviconUrl } = await fetchPageInfo(url)
      await log.append({ type: 'info', url, title, faviconUrl })
    } catch (error) {
      // A page that cannot be fetched is a fact worth keeping too
      await log.append({ type: 'info-failed', url, reason: String(error) })
    }
  }

  // The info fetcher keeps no state: just bump the version

  infoFetcherReadModel.update(infoFetcherReadModel.getState(), event.index)
})

import { project } from 'tiny-event-sourcing'

// When an "info" event arrives, add the page to the bookmarks read model.

project({
  log,
  store: bookmarksReadModel,
  reduce: (state, event) => {
    if (event.type !== 'info') {
      return state
    }
    const { url, title, faviconUrl } = event
    state.byUrl[url] = { url, title, faviconUrl }
    return state
  },
})

import { createServer } from 'node:http'

const server = createServer(async (request, response) => {
  if (request.url !== '/bookmarks') {
    response.writeHead(404).end()
  } else if (request.method === 'GET') {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(JSON.stringify(bookmarksReadModel.getState()))
  } else if (request.method === 'POST') {
    let body = ''
    for await (const chunk of request) body += chunk
    try {
      const { url } = JSON.parse(body)
      await log.append({ type: 'bookmark', url: new URL(url).href })
      response.writeHead(202).end()
    } catch {
      response.writeHead(400).end('send {"url":"https://…"}\n')
    }
  } else {
    response.writeHead(405).end()
  }
})

server.listen(Number(process.env.PORT ?? 3000))

// Ctrl-C: exit normally, so the state stores save their latest state
process.on('SIGINT', () => process.exit())
process.on('SIGTERM', () => process.exit())
