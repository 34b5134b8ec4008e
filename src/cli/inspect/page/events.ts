/**
 * The event browser: a page of events at a time, filtered by type, field
 * value and time, or from an index; each event as collapsible JSON with
 * links to the event that caused it and to those it caused.
 */
import { getJson } from './api.js'
import { colorOf, count, fill, h, moment, plural } from './dom.js'
import { jsonTree } from './json-tree.js'

type StoredEvent = Record<string, unknown> & { index: number; _meta?: { at?: string; causedBy?: number; correlationId?: string } }
interface Row {
  event: StoredEvent
  caused: number[]
  causedCount: number
}
interface Page {
  events: Row[]
  exhausted: boolean
  cursor: number
  indexed: number
}

const pageSize = 50

type Filters = { type?: string[]; where?: string[]; since?: number; until?: number }

/** `2026-12-01T10:00Z`, `2026-12-01 10:00`, `2026-12-01`: UTC unless a zone is given, as on the command line. */
function parseTime(text: string): number | undefined {
  const trimmed = text.trim()
  if (trimmed === '') return undefined
  const normalized = trimmed.replace(' ', 'T')
  const zoned = /(Z|[+-]\d\d:?\d\d)$/.test(normalized) || normalized.length <= 10
  const ms = Date.parse(zoned ? normalized : `${normalized}Z`)
  if (Number.isNaN(ms)) throw new Error(`"${trimmed}" is not a time: write it as 2026-12-01T10:00Z or 2026-12-01 10:00 (UTC)`)
  return ms
}

export class EventBrowser {
  readonly element: HTMLElement
  #type = h('select', { 'aria-label': 'Type' }, h('option', { value: '' }, 'All types'))
  #where = h('input', { type: 'text', placeholder: 'field=value, e.g. url=https://a.example', 'aria-label': 'Field value', size: 28 })
  #since = h('input', { type: 'text', placeholder: 'since (UTC)', 'aria-label': 'Since', size: 17 })
  #until = h('input', { type: 'text', placeholder: 'until (UTC)', 'aria-label': 'Until', size: 17 })
  #jump = h('input', { type: 'number', min: 0, placeholder: 'index', 'aria-label': 'Jump to index', class: 'index-input' })
  #status = h('p', { class: 'status muted' })
  #list = h('div', { class: 'events' })
  #earlier: HTMLButtonElement
  #later: HTMLButtonElement
  #rows: Row[] = []
  /** Whether the page shows the newest matching events, so new ones are added as they come. */
  #atEnd = false
  #atStart = false
  #highlight: number | undefined
  #loading = Promise.resolve()

  constructor() {
    const apply = () => void this.latest()
    this.#type.addEventListener('change', apply)
    for (const input of [this.#where, this.#since, this.#until])
      input.addEventListener('keydown', (event) => (event as KeyboardEvent).key === 'Enter' && apply())
    this.#jump.addEventListener('keydown', (event) => (event as KeyboardEvent).key === 'Enter' && this.#jumpTo())
    this.#earlier = h('button', { type: 'button', onclick: () => void this.#page('earlier') }, '◀ Earlier')
    this.#later = h('button', { type: 'button', onclick: () => void this.#page('later') }, 'Later ▶')
    this.element = h(
      'section',
      { id: 'events', class: 'card' },
      h('header', {}, h('h2', {}, 'Events')),
      h(
        'div',
        { class: 'filters' },
        this.#type,
        this.#where,
        this.#since,
        this.#until,
        h('button', { type: 'button', class: 'primary', onclick: apply }, 'Filter'),
        h('button', { type: 'button', onclick: () => this.clear() }, 'Clear'),
        h('span', { class: 'spacer' }),
        h('label', {}, 'Jump to ', this.#jump),
        h('button', { type: 'button', onclick: () => this.#jumpTo() }, 'Go'),
      ),
      this.#status,
      this.#list,
      h('div', { class: 'pager' }, this.#earlier, this.#later, h('button', { type: 'button', onclick: () => void this.latest() }, 'Latest')),
    )
  }

  /** Offers the log's types in the type filter. */
  setTypes(types: string[]) {
    const current = this.#type.value
    const options = [h('option', { value: '' }, 'All types'), ...types.map((type) => h('option', { value: type }, type))]
    this.#type.replaceChildren(...options)
    this.#type.value = types.includes(current) ? current : ''
  }

  /** Lists the events of one type. */
  showType(type: string) {
    this.#type.value = type
    void this.latest()
    this.element.scrollIntoView({ behavior: 'smooth', block: 'start' })
  }

  /** Lists the events in a time range (ms) or an index range picked on the timeline; `undefined` clears it. */
  showRange(range: { axis: 'time' | 'index'; from: number; to: number } | undefined) {
    if (range === undefined) {
      this.#since.value = ''
      this.#until.value = ''
      void this.latest()
    } else if (range.axis === 'time') {
      this.#since.value = new Date(range.from).toISOString().slice(0, 19).replace('T', ' ')
      this.#until.value = new Date(range.to).toISOString().slice(0, 19).replace('T', ' ')
      void this.#load({ after: -1 }, 'replace')
    } else {
      this.#since.value = ''
      this.#until.value = ''
      this.#highlight = Math.max(0, range.from)
      void this.#load({ after: Math.max(0, range.from) - 1 }, 'replace')
    }
  }

  clear() {
    this.#type.value = ''
    this.#where.value = ''
    this.#since.value = ''
    this.#until.value = ''
    this.#highlight = undefined
    void this.latest()
  }

  #filters(): Filters {
    return {
      type: this.#type.value === '' ? undefined : [this.#type.value],
      where: this.#where.value.trim() === '' ? undefined : this.#where.value.split(/\s*,\s*(?=[^=,]+=)/).filter((part) => part !== ''),
      since: parseTime(this.#since.value),
      until: parseTime(this.#until.value),
    }
  }

  /** The newest events that match. */
  latest(): Promise<void> {
    this.#highlight = undefined
    return this.#load({}, 'replace')
  }

  /** Shows event `index` and those after it, without filters. */
  async jump(index: number) {
    this.#type.value = ''
    this.#where.value = ''
    this.#since.value = ''
    this.#until.value = ''
    this.#highlight = index
    await this.#load({ after: index - 1 }, 'replace')
    this.element.scrollIntoView({ behavior: 'smooth', block: 'start' })
  }

  #jumpTo() {
    const index = Number(this.#jump.value)
    if (this.#jump.value !== '' && Number.isInteger(index) && index >= 0) void this.jump(index)
  }

  #page(direction: 'earlier' | 'later') {
    if (this.#rows.length === 0) return this.latest()
    return direction === 'earlier'
      ? this.#load({ before: this.#rows[0]!.event.index }, 'replace')
      : this.#load({ after: this.#rows.at(-1)!.event.index }, 'replace')
  }

  /** Adds the events appended since the last shown, when the page shows the newest ones. */
  follow(): Promise<void> {
    if (!this.#atEnd) return Promise.resolve()
    const last = this.#rows.at(-1)?.event.index ?? -1
    return this.#load({ after: last }, 'append')
  }

  #load(position: { after?: number; before?: number }, mode: 'replace' | 'append'): Promise<void> {
    // One request at a time, in order: a slow search must not overwrite a later one.
    this.#loading = this.#loading
      .then(() => this.#fetch(position, mode))
      .catch((error) => fill(this.#status, h('span', { class: 'error' }, (error as Error).message)))
    return this.#loading
  }

  async #fetch(position: { after?: number; before?: number }, mode: 'replace' | 'append') {
    const filters = this.#filters()
    const page = await getJson<Page>('/api/events', { ...filters, ...position, limit: pageSize })
    const forward = position.after !== undefined
    if (mode === 'append') {
      if (page.events.length === 0) return
      this.#rows = [...this.#rows, ...page.events].slice(-4 * pageSize)
      this.#atEnd = page.exhausted || page.events.length < pageSize
    } else {
      this.#rows = page.events
      this.#atEnd = forward ? page.exhausted || page.events.length < pageSize : true
      this.#atStart = forward ? position.after === -1 : page.exhausted || page.events.length < pageSize
      if (position.after === undefined && position.before !== undefined) this.#atEnd = false
    }
    this.#draw(filters, page)
  }

  #draw(filters: Filters, page: Page) {
    this.#earlier.disabled = this.#atStart || this.#rows.length === 0 || this.#rows[0]!.event.index === 0
    this.#later.disabled = this.#atEnd
    const described: string[] = []
    if (filters.type) described.push(`type ${(filters.type as string[])[0]}`)
    if (filters.where) described.push((filters.where as string[]).join(', '))
    if (filters.since !== undefined) described.push(`since ${moment(filters.since as number)}`)
    if (filters.until !== undefined) described.push(`until ${moment(filters.until as number)}`)
    const first = this.#rows[0]?.event.index
    const last = this.#rows.at(-1)?.event.index
    fill(
      this.#status,
      this.#rows.length === 0
        ? page.indexed === 0
          ? 'The log is empty: events appear here as they are appended.'
          : `No event matches${described.length > 0 ? ` ${described.join(', ')}` : ''}.`
        : `${plural(this.#rows.length, 'event', 'events')}, #${count(first!)}–#${count(last!)} of ${count(page.indexed)}${described.length > 0 ? `, ${described.join(', ')}` : ''}${this.#atEnd ? ' · the newest are shown, and new ones are added as they come' : ''}`,
    )
    fill(this.#list, ...this.#rows.map((row) => this.#eventRow(row)))
    const highlighted = this.#highlight === undefined ? null : this.#list.querySelector(`[data-index="${this.#highlight}"]`)
    if (highlighted) {
      highlighted.classList.add('highlight')
      this.#list.scrollTop = (highlighted as HTMLElement).offsetTop - this.#list.offsetTop - 8
    } else if (this.#atEnd) this.#list.scrollTop = this.#list.scrollHeight // the newest, at the bottom
  }

  #link(index: number): HTMLElement {
    return h('button', { type: 'button', class: 'link index', onclick: () => void this.jump(index) }, `#${count(index)}`)
  }

  #eventRow({ event, caused, causedCount }: Row): HTMLElement {
    const type = typeof event.type === 'string' ? event.type : '(no type)'
    const meta = event._meta
    const head = h(
      'div',
      { class: 'event-head' },
      h('span', { class: 'index' }, `#${count(event.index)}`),
      h('span', { class: 'badge', style: `--c:${colorOf(type)}` }, type),
      h('span', { class: 'time' }, meta?.at ? moment(Date.parse(meta.at)) : 'no time'),
      meta?.causedBy !== undefined && h('span', { class: 'cause' }, 'caused by ', this.#link(meta.causedBy)),
      causedCount > 0 &&
        h(
          'span',
          { class: 'cause' },
          'caused ',
          ...caused.flatMap((index, i) => [i > 0 ? ' ' : '', this.#link(index)]),
          causedCount > caused.length ? ` and ${count(causedCount - caused.length)} more` : '',
        ),
      meta?.correlationId !== undefined && h('span', { class: 'muted correlation' }, `correlation ${meta.correlationId}`),
    )
    // Collapsed to one line of JSON; opened, the whole event as a tree.
    const { index: _index, _meta: _dropped, ...fields } = event
    const preview = JSON.stringify(fields)
    const body = h(
      'details',
      { class: 'event-json' },
      h('summary', {}, h('span', { class: 'preview' }, preview.length > 160 ? `${preview.slice(0, 159)}…` : preview)),
    )
    body.addEventListener('toggle', () => {
      if (body.open && body.children.length === 1) body.append(jsonTree(event, 2))
    })
    return h('article', { class: 'event', 'data-index': event.index }, head, body)
  }
}
