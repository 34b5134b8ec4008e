/**
 * The inspect page's HTTP server: 127.0.0.1 only, every request checked for
 * the secret token, answers computed from the log index (or from the few
 * events asked for), and the page's own script and styles inlined, so the
 * page loads nothing from anywhere else.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { script, style } from 'virtual:inspect-page'
import { matchesFilter } from '../../core/filter.js'
import type { Indexed } from '../../index.js'
import { catalogueJson } from '../catalogue.js'
import { formatDifference, jsonDiff } from '../json-diff.js'
import { replayLog, type Reducer } from '../replay.js'
import type { LogIndex, Selection } from './log-index.js'
import { readEvents } from './read-events.js'
import type { ReadModels } from './read-models.js'
import { indexBuckets, timeBuckets } from './timeline.js'

type StoredEvent = Indexed<Record<string, unknown>>

/** Events a page of the browser holds at most. */
const maxPage = 200
/** Events a search with `where` looks through before it answers with what it found (the page can ask for more). */
const searchBudget = 100_000
/** Caused events listed with each event. */
const listedCaused = 50
/** How often the page is told about growth, at most. */
const liveEveryMs = 200
/** How often state files are looked at for changes. */
const readModelsEveryMs = 1000

export interface InspectServer {
  /** The URL to open, token included. */
  url: string
  close(): Promise<void>
}

function page(title: string): string {
  const escaped = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escaped} · tiny-event-sourcing inspect</title>
<style>${style}</style>
</head>
<body>
<div id="app"></div>
<script>${script.replace(/<\/script/gi, '<\\/script')}</script>
</body>
</html>
`
}

/** `field=value` pairs, the value read as JSON when it parses, as `cat --where` reads them. */
function parseWhere(list: string[]): Record<string, unknown> | undefined {
  if (list.length === 0) return undefined
  const where: Record<string, unknown> = {}
  for (const item of list) {
    const equals = item.indexOf('=')
    if (equals <= 0) throw new BadRequest(`where takes field=value, got '${item}'`)
    const raw = item.slice(equals + 1)
    let value: unknown = raw
    try {
      value = JSON.parse(raw)
    } catch {
      // A plain string.
    }
    where[item.slice(0, equals)] = value
  }
  return where
}

class BadRequest extends Error {}

function numberParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name)
  if (raw === null || raw === '') return undefined
  const value = Number(raw)
  if (!Number.isFinite(value)) throw new BadRequest(`${name} must be a number, got '${raw}'`)
  return value
}

/** Differences listed by `/api/try`; beyond this only their number is given. */
const listedDifferences = 500

export async function startInspectServer(options: {
  index: LogIndex
  readModels: ReadModels
  logFile: string
  port: number
  /** `--try`: a reducer module to compare with each read model. */
  tryModule?: { name: string; reducer: Reducer }
}): Promise<InspectServer> {
  const { index, readModels, logFile, tryModule } = options
  const log = index.log
  const token = randomBytes(18).toString('base64url')
  const tokenBytes = Buffer.from(token)
  const streams = new Set<ServerResponse>()

  const hasToken = (url: URL): boolean => {
    const given = Buffer.from(url.searchParams.get('token') ?? '')
    return given.length === tokenBytes.length && timingSafeEqual(given, tokenBytes)
  }

  const withCauses = (event: StoredEvent) => {
    const caused = index.causedBy(event.index)
    return { event, caused: caused.slice(0, listedCaused), causedCount: caused.length }
  }

  const routes: Record<string, (params: URLSearchParams) => Promise<unknown>> = {
    async '/api/summary'() {
      const bytes = await stat(logFile).then(
        (info) => info.size,
        () => 0,
      )
      return { log: logFile, bytes, readModels: readModels.files.length, tryModule: tryModule?.name, ...index.summary(), failure: index.failure?.message }
    },

    async '/api/timeline'(params) {
      const summary = index.summary()
      const axis = params.get('axis') === 'index' || summary.firstAt === undefined ? 'index' : 'time'
      const lowest = axis === 'time' ? summary.firstAt! : 0
      const highest = axis === 'time' ? summary.lastAt! : Math.max(0, summary.indexed - 1)
      const from = Math.max(lowest, numberParam(params, 'from') ?? lowest)
      const to = Math.min(highest, numberParam(params, 'to') ?? highest)
      const buckets = axis === 'time' ? timeBuckets(from, Math.max(from, to)) : indexBuckets(from, Math.max(from, to))
      const { counts, total } = index.histogram(axis, buckets.from, buckets.from + buckets.width * buckets.count, buckets.count)
      return {
        axis,
        ...buckets,
        total,
        untimed: summary.untimed,
        x: Array.from({ length: buckets.count }, (_, i) => buckets.from + i * buckets.width),
        series: summary.types.map(({ type }) => ({ type, counts: counts[type]! })),
      }
    },

    async '/api/catalogue'() {
      return { catalogued: index.catalogued, length: index.summary().length, untimed: index.catalogue.untimed, types: catalogueJson(index.catalogue) }
    },

    async '/api/events'(params) {
      const types = params.getAll('type').filter((type) => type !== '')
      const where = parseWhere(params.getAll('where').filter((item) => item !== ''))
      const selection: Selection = {
        ...(types.length > 0 ? { types } : {}),
        ...(numberParam(params, 'since') === undefined ? {} : { since: numberParam(params, 'since')! }),
        ...(numberParam(params, 'until') === undefined ? {} : { until: numberParam(params, 'until')! }),
      }
      const limit = Math.min(maxPage, Math.max(1, numberParam(params, 'limit') ?? 50))
      const after = numberParam(params, 'after')
      const forward = after !== undefined
      let cursor = forward ? after : (numberParam(params, 'before') ?? index.indexed)
      const found: StoredEvent[] = []
      let scanned = 0
      let exhausted = false
      while (found.length < limit && scanned < searchBudget) {
        const wanted = where === undefined ? limit - found.length : 500
        const { indices, scannedTo } = index.candidates(selection, forward ? { after: cursor } : { before: cursor }, wanted)
        if (indices.length === 0) {
          exhausted = true
          cursor = scannedTo
          break
        }
        const events = await readEvents(log, indices)
        const matching = where === undefined ? events : events.filter((event) => matchesFilter(event, { where }))
        const room = limit - found.length
        if (forward) {
          const taken = matching.slice(0, room)
          found.push(...taken)
          cursor = taken.length === room && taken.length > 0 ? taken.at(-1)!.index : indices.at(-1)!
        } else {
          const taken = matching.slice(Math.max(0, matching.length - room))
          found.unshift(...taken)
          cursor = taken.length === room && taken.length > 0 ? taken[0]!.index : indices[0]!
        }
        scanned += indices.length
      }
      return { events: found.map(withCauses), exhausted, cursor, indexed: index.indexed }
    },

    async '/api/event'(params) {
      const at = numberParam(params, 'index')
      if (at === undefined || !Number.isInteger(at) || at < 0 || at >= index.indexed)
        throw new BadRequest(`no event ${params.get('index')} in the log (it holds ${index.indexed})`)
      const [event] = await readEvents(log, [at])
      return withCauses(event!)
    },

    async '/api/read-models'() {
      const length = index.summary().length
      return (await readModels.list()).map((model) => ({ ...model, ...(model.version === undefined ? {} : { behind: length - 1 - model.version }) }))
    },

    async '/api/try'(params) {
      if (tryModule === undefined) throw new BadRequest('start inspect with --try MODULE to compare a reducer with the read models')
      const stored = await readModels.snapshot(numberParam(params, 'model') ?? -1)
      if (stored === undefined) throw new BadRequest('no such read model, or it cannot be read')
      try {
        const { state, count, last } = await replayLog(log, tryModule.reducer, logFile, { index: stored.version })
        const differences = jsonDiff(stored.state, state)
        const kinds = { added: 0, removed: 0, changed: 0 }
        for (const difference of differences) kinds[difference.kind]++
        return {
          module: tryModule.name,
          version: stored.version,
          replayed: count,
          last,
          ...kinds,
          total: differences.length,
          lines: differences.slice(0, listedDifferences).map(formatDifference),
        }
      } catch (error) {
        return { module: tryModule.name, error: (error as Error).message }
      }
    },

    async '/api/state'(params) {
      const model = numberParam(params, 'model') ?? -1
      let path: unknown
      try {
        path = JSON.parse(params.get('path') ?? '[]')
      } catch {
        throw new BadRequest('path must be a JSON array of keys')
      }
      if (!Array.isArray(path)) throw new BadRequest('path must be a JSON array of keys')
      const node = await readModels.node(model, path.map(String))
      if (node === undefined) throw new BadRequest('no such read model or path')
      return node
    },
  }

  const send = (response: ServerResponse, status: number, type: string, body: string) => {
    response.writeHead(status, {
      'content-type': type,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // The token is in the page's URL: it must not leave in a Referer.
      'referrer-policy': 'no-referrer',
      // The page may load nothing from anywhere, not even from this server, but its API.
      'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
    })
    response.end(body)
  }

  const live = (response: ServerResponse) => {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    response.write(': following the log\n\n')
    streams.add(response)
    response.on('close', () => streams.delete(response))
  }

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    if (!hasToken(url)) {
      send(response, 403, 'text/plain; charset=utf-8', 'Forbidden: open the URL that `tiny-event-sourcing inspect` printed, with its token.\n')
      return
    }
    if (request.method !== 'GET') {
      send(response, 405, 'text/plain; charset=utf-8', 'Only GET: this server never changes anything.\n')
      return
    }
    if (url.pathname === '/') return send(response, 200, 'text/html; charset=utf-8', page(logFile))
    if (url.pathname === '/api/live') return live(response)
    const route = routes[url.pathname]
    if (route === undefined) return send(response, 404, 'text/plain; charset=utf-8', 'Not found\n')
    try {
      send(response, 200, 'application/json; charset=utf-8', JSON.stringify(await route(url.searchParams)))
    } catch (error) {
      if (error instanceof BadRequest) send(response, 400, 'application/json; charset=utf-8', JSON.stringify({ error: error.message }))
      else send(response, 500, 'application/json; charset=utf-8', JSON.stringify({ error: (error as Error).message }))
    }
  }

  const server: Server = createServer((request, response) => void handle(request, response))
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`port ${options.port} of 127.0.0.1 is in use; choose another with --port, or leave --port out for a free one`, { cause: error })
          : error,
      ),
    )
    server.listen(options.port, '127.0.0.1', resolve)
  })

  // Live: growth of the log, throttled; changes of the state files, polled.
  let pending: ReturnType<typeof setTimeout> | undefined
  const broadcast = (name: string, data: unknown) => {
    const text = `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`
    for (const stream of streams) stream.write(text)
  }
  const stopWatching = index.onChange(() => {
    pending ??= setTimeout(() => {
      pending = undefined
      broadcast('log', index.summary())
    }, liveEveryMs)
  })
  let fingerprint = await readModels.fingerprint()
  const poll = setInterval(async () => {
    const now = await readModels.fingerprint()
    if (now !== fingerprint) {
      fingerprint = now
      broadcast('read-models', {})
    }
  }, readModelsEveryMs)
  // Keeps proxies and browsers from giving up on a quiet stream.
  const keepAlive = setInterval(() => {
    for (const stream of streams) stream.write(': still here\n\n')
  }, 15_000)

  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    async close() {
      stopWatching()
      clearTimeout(pending)
      clearInterval(poll)
      clearInterval(keepAlive)
      for (const stream of streams) stream.end()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
