/**
 * The timeline: events per type over time (or over indices, for logs without
 * times) as stacked bars drawn by uPlot. Dragging across it zooms in: the
 * server counts the range again in finer buckets, and the page lists the
 * range's events in the browser.
 */
import uPlot from 'uplot'
import { getJson } from './api.js'
import { colorOf, count, fill, h, moment, plural } from './dom.js'

export interface TimelineData {
  axis: 'time' | 'index'
  from: number
  width: number
  count: number
  unit: string
  total: number
  untimed: number
  x: number[]
  series: { type: string; counts: number[] }[]
}

/** A range picked on the timeline: of times (ms) or of indices, bounds included. */
export interface PickedRange {
  axis: 'time' | 'index'
  from: number
  to: number
}

/** An axis label in UTC, as precise as the ticks' spacing (seconds) needs: `2026-12-01`, `12-01 10:00`, `10:00:05`. */
function timeLabel(seconds: number, increment: number): string {
  const iso = new Date(seconds * 1000).toISOString()
  if (increment >= 86_400) return iso.slice(0, 10)
  if (increment >= 60) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`
  return iso.slice(11, 19)
}

export class Timeline {
  readonly element: HTMLElement
  #chartBox = h('div', { class: 'chart' })
  #legend = h('div', { class: 'legend' })
  #readout = h('div', { class: 'readout muted' }, 'Drag across the chart to zoom in and list the events of that range.')
  #title = h('h2', {}, 'Timeline')
  #note = h('p', { class: 'note muted' })
  #axisChoice: 'time' | 'index' = 'time'
  #zoom: { from: number; to: number } | undefined
  #chart: uPlot | undefined
  #data: TimelineData | undefined
  #resetButton: HTMLButtonElement
  #axisButtons: Record<'time' | 'index', HTMLButtonElement>

  constructor(private readonly onPick: (range: PickedRange | undefined) => void) {
    this.#resetButton = h('button', { type: 'button', onclick: () => this.#reset(), disabled: true }, 'Reset zoom')
    this.#axisButtons = {
      time: h('button', { type: 'button', class: 'toggle on', onclick: () => this.#setAxis('time') }, 'By time'),
      index: h('button', { type: 'button', class: 'toggle', onclick: () => this.#setAxis('index') }, 'By index'),
    }
    this.element = h(
      'section',
      { id: 'timeline', class: 'card' },
      h('header', {}, this.#title, h('div', { class: 'tools' }, this.#axisButtons.time, this.#axisButtons.index, this.#resetButton)),
      this.#chartBox,
      this.#legend,
      this.#readout,
      this.#note,
    )
    new ResizeObserver(() => this.#chart?.setSize(this.#size())).observe(this.#chartBox)
  }

  #size() {
    return { width: Math.max(300, this.#chartBox.clientWidth), height: 260 }
  }

  #setAxis(axis: 'time' | 'index') {
    if (axis === this.#axisChoice) return
    this.#axisChoice = axis
    this.#zoom = undefined
    this.onPick(undefined)
    void this.refresh()
  }

  #reset() {
    this.#zoom = undefined
    this.onPick(undefined)
    void this.refresh()
  }

  /** Fetches the counts for the current axis and zoom and redraws. */
  async refresh(): Promise<void> {
    const data = await getJson<TimelineData>('/api/timeline', { axis: this.#axisChoice, from: this.#zoom?.from, to: this.#zoom?.to })
    this.#data = data
    this.#draw(data)
  }

  #draw(data: TimelineData) {
    const isTime = data.axis === 'time'
    for (const [axis, button] of Object.entries(this.#axisButtons)) button.classList.toggle('on', axis === data.axis)
    this.#axisButtons.time.disabled = !isTime && this.#axisChoice === 'time' // no times in this log
    this.#resetButton.disabled = this.#zoom === undefined
    fill(this.#title, 'Timeline ', h('span', { class: 'muted' }, `events per ${data.unit}${isTime ? ' (UTC)' : ''}`))
    fill(
      this.#note,
      isTime && data.untimed > 0
        ? `${plural(data.untimed, 'event has', 'events have')} no time (written by 0.2.x or with metadata: false) and ${data.untimed === 1 ? 'is' : 'are'} not on the time axis: choose "By index" to see ${data.untimed === 1 ? 'it' : 'them'}.`
        : !isTime && this.#axisChoice === 'time'
          ? 'No event in this log has a time (written by 0.2.x or with metadata: false): the timeline runs over indices.'
          : '',
    )
    this.#chart?.destroy()
    this.#chart = undefined
    if (data.total === 0 && this.#zoom === undefined) {
      fill(this.#chartBox, h('div', { class: 'empty' }, 'The log is empty: events appear here as they are appended.'))
      fill(this.#legend)
      return
    }
    fill(this.#chartBox)
    // Stacked bars: each series is the sum of its type and those drawn below it, drawn tallest first.
    const stacked: number[][] = []
    let running = new Array<number>(data.count).fill(0)
    for (const series of data.series) {
      running = running.map((sum, i) => sum + series.counts[i]!)
      stacked.push(running)
    }
    const order = data.series.map((_, i) => i).reverse()
    const x = isTime ? data.x.map((ms) => ms / 1000) : data.x
    const bars = uPlot.paths.bars!({ size: [1, 100], align: 1, gap: 1 })
    const options: uPlot.Options = {
      ...this.#size(),
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      scales: {
        x: { time: isTime, range: (_u, min, max) => [min, max + (isTime ? data.width / 1000 : data.width)] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.05] },
      },
      axes: [
        isTime
          ? {
              stroke: '#667',
              grid: { stroke: '#eef' },
              space: 110,
              values: (_u, values, _axis, _space, increment) => values.map((v) => timeLabel(v, increment)),
            }
          : { stroke: '#667', grid: { stroke: '#eef' }, space: 70, values: (_u, values) => values.map((v) => count(Math.round(v))) },
        {
          stroke: '#667',
          grid: { stroke: '#eef' },
          label: `events per ${data.unit}`,
          labelSize: 20,
          size: 60,
          values: (_u, values) => values.map((v) => (Number.isInteger(v) ? count(v) : '')),
        },
      ],
      ...(isTime ? { tzDate: (seconds: number) => uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC') } : {}),
      series: [
        {},
        ...order.map((i) => ({
          label: data.series[i]!.type,
          fill: colorOf(data.series[i]!.type),
          stroke: colorOf(data.series[i]!.type),
          width: 0,
          paths: bars,
          points: { show: false },
        })),
      ],
      hooks: {
        setSelect: [(u) => this.#picked(u)],
        setCursor: [(u) => this.#hover(u.cursor.idx)],
      },
    }
    this.#chart = new uPlot(options, [x, ...order.map((i) => stacked[i]!)], this.#chartBox)
    fill(
      this.#legend,
      ...data.series.map(({ type, counts }) =>
        h(
          'span',
          { class: 'chip' },
          h('i', { style: `background:${colorOf(type)}` }),
          type,
          h('span', { class: 'muted' }, ` ${count(counts.reduce((a, b) => a + b, 0))}`),
        ),
      ),
    )
  }

  #label(i: number): string {
    const data = this.#data!
    const start = data.x[i]!
    if (data.axis === 'index') return data.width === 1 ? `#${start}` : `#${count(start)}–${count(start + data.width - 1)}`
    return `${moment(start)} – ${moment(start + data.width).slice(11)}`
  }

  #hover(i: number | null | undefined) {
    const data = this.#data
    if (i === null || i === undefined || data === undefined || i >= data.count) return
    const parts = data.series.filter(({ counts }) => counts[i]! > 0).map(({ type, counts }) => `${type} ${count(counts[i]!)}`)
    fill(this.#readout, h('b', {}, this.#label(i)), ': ', parts.length === 0 ? 'no events' : parts.join(' · '))
  }

  #picked(u: uPlot) {
    if (u.select.width < 3 || this.#data === undefined) return
    const isTime = this.#data.axis === 'time'
    const a = u.posToVal(u.select.left, 'x')
    const b = u.posToVal(u.select.left + u.select.width, 'x')
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
    const from = Math.floor(isTime ? a * 1000 : a)
    const to = Math.ceil(isTime ? b * 1000 : b)
    this.#zoom = { from, to }
    this.onPick({ axis: this.#data.axis, from, to })
    void this.refresh()
  }
}
