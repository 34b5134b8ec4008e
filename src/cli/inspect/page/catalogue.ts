/** The field catalogue of `stats`, as a table: every type's fields, how often, which kinds, an example, when first and last seen. */
import { getJson } from './api.js'
import { colorOf, count, fill, h, moment, plural } from './dom.js'

interface Sighting {
  index: number
  at?: string
}
interface FieldJson {
  events: number
  kinds: string[]
  example: unknown
  firstSeen: Sighting
  lastSeen: Sighting
}
interface TypeJson {
  events: number
  firstSeen: Sighting
  lastSeen: Sighting
  uncataloguedFields: number
  fields: Record<string, FieldJson>
}
interface CatalogueJson {
  catalogued: number
  length: number
  untimed: number
  types: Record<string, TypeJson>
}

const seen = (sighting: Sighting) => (sighting.at === undefined ? `#${count(sighting.index)}` : moment(Date.parse(sighting.at)))
const share = (part: number, whole: number) => {
  const value = (100 * part) / whole
  return value === 100 || value === 0 ? `${value}%` : value >= 99.5 ? '>99%' : value < 1 ? '<1%' : `${Math.round(value)}%`
}
function example(value: unknown): string {
  if (value === null) return ''
  const text = JSON.stringify(value)
  return text.length > 60 ? `${text.slice(0, 59)}…` : text
}

export class Catalogue {
  readonly element: HTMLElement
  #body = h('div', { class: 'table-box' })
  #note = h('p', { class: 'note muted' })
  #progress = h('p', { class: 'note reading' })
  #filter = h('input', { type: 'search', placeholder: 'Filter fields…', 'aria-label': 'Filter fields' })
  #data: CatalogueJson | undefined

  constructor(private readonly onType: (type: string) => void) {
    this.#filter.addEventListener('input', () => this.#draw())
    this.element = h(
      'section',
      { id: 'catalogue', class: 'card' },
      h(
        'header',
        {},
        h('h2', {}, 'Field catalogue ', h('span', { class: 'muted' }, 'every field each type carries')),
        h('div', { class: 'tools' }, this.#filter),
      ),
      this.#progress,
      this.#body,
      this.#note,
    )
  }

  async refresh(): Promise<void> {
    this.#data = await getJson<CatalogueJson>('/api/catalogue')
    this.#draw()
  }

  #draw() {
    const data = this.#data
    if (data === undefined) return
    const types = Object.entries(data.types)
    const reading =
      data.catalogued < data.length
        ? h(
            'span',
            {},
            `Reading fields: ${Math.floor((100 * data.catalogued) / data.length)}% of the events so far (${count(data.catalogued)} of ${count(data.length)}); the counts grow until it is done.`,
          )
        : null
    fill(this.#progress, reading)
    if (types.length === 0) {
      if (reading) {
        fill(this.#body)
        return
      }
      fill(this.#body, h('div', { class: 'empty' }, 'No events yet, so no fields: the catalogue fills in as events are appended.'))
      fill(this.#note)
      return
    }
    const needle = this.#filter.value.trim().toLowerCase()
    const rows: HTMLElement[] = []
    for (const [type, summary] of types) {
      const fields = Object.entries(summary.fields).filter(
        ([path]) => needle === '' || path.toLowerCase().includes(needle) || type.toLowerCase().includes(needle),
      )
      if (fields.length === 0) continue
      rows.push(
        h(
          'tr',
          { class: 'type-row' },
          h(
            'th',
            { colspan: 1 },
            h(
              'button',
              { type: 'button', class: 'link', title: `List ${type} events`, onclick: () => this.onType(type) },
              h('i', { class: 'dot', style: `background:${colorOf(type)}` }),
              type,
            ),
          ),
          h('td', { class: 'n' }, count(summary.events)),
          h('td', {}, ''),
          h('td', {}, ''),
          h('td', {}, seen(summary.firstSeen)),
          h('td', {}, seen(summary.lastSeen)),
          h(
            'td',
            { class: 'muted' },
            summary.uncataloguedFields > 0 ? `and ${count(summary.uncataloguedFields)} more field paths, not listed (an object used as a map?)` : '',
          ),
        ),
      )
      for (const [path, field] of fields) {
        rows.push(
          h(
            'tr',
            {},
            h('td', { class: 'field' }, path),
            h('td', { class: 'n' }, count(field.events)),
            h('td', { class: 'n' }, share(field.events, summary.events)),
            h('td', {}, field.kinds.join(' | ')),
            h('td', {}, seen(field.firstSeen)),
            h('td', {}, seen(field.lastSeen)),
            h('td', { class: 'example' }, example(field.example)),
          ),
        )
      }
    }
    fill(
      this.#body,
      h(
        'table',
        { class: 'catalogue' },
        h(
          'thead',
          {},
          h('tr', {}, ...['type / field', 'events', 'share', 'kinds', 'first seen (UTC)', 'last seen (UTC)', 'example'].map((label) => h('th', {}, label))),
        ),
        h('tbody', {}, ...rows),
      ),
    )
    fill(
      this.#note,
      data.untimed > 0
        ? `${plural(data.untimed, 'event has', 'events have')} no time (written by 0.2.x or with metadata: false): where one is first or last seen, its index is shown, as #N.`
        : '',
    )
  }
}
