/** The inspect page: a header, the timeline, the field catalogue, the event browser and the read models, kept live by server-sent events. */
import 'uplot/dist/uPlot.min.css'
import './style.css'
import { apiUrl, getJson } from './api.js'
import { Catalogue } from './catalogue.js'
import { bytes, colorOf, fill, h, plural } from './dom.js'
import { EventBrowser } from './events.js'
import { ReadModels } from './read-models.js'
import { Timeline } from './timeline.js'

interface Summary {
  log: string
  bytes: number
  readModels: number
  tryModule?: string
  length: number
  indexed: number
  catalogued: number
  types: { type: string; count: number }[]
  untimed: number
  failure?: string
}

const browser = new EventBrowser()
const timeline = new Timeline((range) => browser.showRange(range))
const catalogue = new Catalogue((type) => browser.showType(type))
const readModels = new ReadModels()

const title = h('div', { class: 'title' })
const facts = h('div', { class: 'facts' })
const liveBadge = h('span', { class: 'live off' }, 'connecting…')
const banner = h('div', { class: 'banner', hidden: true })

document.getElementById('app')!.append(
  h('header', { class: 'top' }, h('div', { class: 'brand' }, 'tiny-event-sourcing ', h('b', {}, 'inspect')), title, facts, liveBadge),
  h(
    'nav',
    {},
    ...[
      ['timeline', 'Timeline'],
      ['catalogue', 'Fields'],
      ['events', 'Events'],
      ['read-models', 'Read models'],
    ].map(([id, label]) =>
      h(
        'a',
        {
          href: `#${id}`,
          onclick: (event: Event) => {
            event.preventDefault()
            document.getElementById(id!)?.scrollIntoView({ behavior: 'smooth' })
          },
        },
        label!,
      ),
    ),
    h('span', { class: 'muted readonly' }, 'read-only: nothing here writes the log or a state file'),
  ),
  banner,
  h('main', {}, timeline.element, catalogue.element, browser.element, readModels.element),
)

function showSummary(summary: Summary) {
  fill(title, summary.log)
  const indexing = summary.indexed < summary.length
  fill(
    facts,
    `${plural(summary.length, 'event', 'events')} · ${plural(summary.types.length, 'type', 'types')} · ${bytes(summary.bytes)} · ${plural(summary.readModels, 'read model', 'read models')}`,
    indexing && h('span', { class: 'indexing' }, ` · reading ${Math.floor((100 * summary.indexed) / Math.max(1, summary.length))}%`),
  )
  // The most frequent types get the first colors, everywhere on the page.
  for (const { type } of summary.types) colorOf(type)
  browser.setTypes(summary.types.map(({ type }) => type))
  readModels.tryModule = summary.tryModule
  banner.hidden = summary.failure === undefined
  fill(banner, summary.failure ?? '')
  document.body.dataset.indexed = String(summary.indexed)
}

let lastCatalogue = 0
let cataloguedShown = -1
let refreshing: Promise<unknown> | undefined
let again = false

/** Everything that depends on the log, again; at most one round at a time, and the catalogue at most every 2 s. */
async function refreshAll(first = false) {
  if (refreshing) {
    again = true
    return
  }
  const summary = await getJson<Summary>('/api/summary')
  showSummary(summary)
  const work: Promise<unknown>[] = [timeline.refresh(), readModels.refresh(), first ? browser.latest() : browser.follow()]
  if (first || Date.now() - lastCatalogue > 1000 || (summary.catalogued === summary.length && cataloguedShown !== summary.catalogued)) {
    cataloguedShown = summary.catalogued
    lastCatalogue = Date.now()
    work.push(catalogue.refresh())
  }
  // The first view is ready when the timeline, the events and the read models are; the catalogue may take longer on a big log.
  refreshing = Promise.allSettled(work)
  await Promise.allSettled(work.slice(0, 3))
  document.body.dataset.ready = 'true'
  await refreshing
  refreshing = undefined
  if (again) {
    again = false
    void refreshAll()
  }
}

const live = new EventSource(apiUrl('/api/live'))
live.addEventListener('open', () => {
  liveBadge.className = 'live on'
  fill(liveBadge, '● live')
})
live.addEventListener('error', () => {
  liveBadge.className = 'live off'
  fill(liveBadge, 'not connected: is the command still running?')
})
live.addEventListener('log', () => void refreshAll())
live.addEventListener('read-models', () => void readModels.refresh())

void refreshAll(true).catch((error) => {
  banner.hidden = false
  fill(banner, `Could not load the page's data: ${(error as Error).message}`)
})
