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
// and append it to the log as an "info" event, caused by the bookmark.

catchupSubscribe(
  // Start after the events this subscriber processed before a restart
  log.events({ after: infoFetcherReadModel.getVersion() }),
  async (event, { append }) => {
    if (event.type === 'bookmark') {
      const { url } = event
      try {
        const { title, faviconUrl } = await fetchPageInfo(url)
        await append({ type: 'info', url, title, faviconUrl })
      } catch (error) {
        // A page that cannot be fetched is a fact worth keeping too
        await append({ type: 'info-failed', url, reason: String(error) })
      }
    }

    // The info fetcher keeps no state: just bump the version

    infoFetcherReadModel.update(infoFetcherReadModel.getState(), event.index)
  },
  // What it appends: a bookmark whose info reached the log before a crash
  // is not handled again, so each page is fetched and recorded once
  { appends: { types: ['info', 'info-failed'] } },
)

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
import { AppendConflictError } from 'tiny-event-sourcing'

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
      const url = new URL(JSON.parse(body).url).href
      // Two requests for the same URL may race: the append is refused if a
      // bookmark of it came after the events the read model reflects
      await log.append({ type: 'bookmark', url }, { condition: { types: ['bookmark'], where: { url }, after: bookmarksReadModel.getVersion() } })
      response.writeHead(202).end()
    } catch (error) {
      if (error instanceof AppendConflictError) {
        response.writeHead(200).end('already bookmarked\n')
      } else {
        response.writeHead(400).end('send {"url":"https://…"}\n')
      }
    }
  } else {
    response.writeHead(405).end()
  }
})

server.listen(Number(process.env.PORT ?? 3000))

// Ctrl-C: exit normally, so the state stores save their latest state
process.on('SIGINT', () => process.exit())
process.on('SIGTERM', () => process.exit())
