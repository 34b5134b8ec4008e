/** Collapsible JSON: events shown whole, and read models' states fetched a level at a time as they are opened. */
import { getJson } from './api.js'
import { h } from './dom.js'

function scalar(value: unknown): HTMLElement {
  const kind = value === null ? 'null' : typeof value
  return h('span', { class: `j-${kind}` }, JSON.stringify(value))
}

function keyLabel(key: string | number): HTMLElement {
  return h('span', { class: 'j-key' }, typeof key === 'number' ? `${key}` : JSON.stringify(key))
}

/** A JSON value as a tree of `<details>`: objects and arrays open down to `openDepth`. */
export function jsonTree(value: unknown, openDepth = 1, depth = 0): HTMLElement {
  if (typeof value !== 'object' || value === null) return scalar(value)
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((item, i) => [i, item]) : Object.entries(value)
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}']
  if (entries.length === 0) return h('span', { class: 'j-punct' }, `${open}${close}`)
  const details = h('details', { class: 'j-node', open: depth < openDepth })
  details.append(
    h(
      'summary',
      {},
      h('span', { class: 'j-punct' }, open),
      h(
        'span',
        { class: 'j-size' },
        ` ${entries.length} ${Array.isArray(value) ? (entries.length === 1 ? 'item' : 'items') : entries.length === 1 ? 'key' : 'keys'} `,
      ),
      h('span', { class: 'j-punct' }, close),
    ),
  )
  const list = h('div', { class: 'j-children' })
  for (const [key, child] of entries)
    list.append(h('div', { class: 'j-row' }, keyLabel(key), h('span', { class: 'j-punct' }, ': '), jsonTree(child, openDepth, depth + 1)))
  details.append(list)
  return details
}

interface StateNode {
  kind: string
  size?: number
  value?: unknown
  children?: { key: string; kind: string; size?: number; value?: unknown }[]
  more?: number
}

/** A read model's state as a tree whose branches are fetched from the server when opened. */
export function lazyStateTree(model: number, path: string[] = [], node?: { kind: string; size?: number; value?: unknown }, label?: string): HTMLElement {
  const head = label === undefined ? [] : [keyLabel(label), h('span', { class: 'j-punct' }, ': ')]
  if (node !== undefined && node.kind !== 'object' && node.kind !== 'array') return h('div', { class: 'j-row' }, ...head, scalar(node.value))
  const isArray = node?.kind === 'array'
  const [open, close] = isArray ? ['[', ']'] : ['{', '}']
  if (node?.size === 0) return h('div', { class: 'j-row' }, ...head, h('span', { class: 'j-punct' }, `${open}${close}`))
  const size =
    node?.size === undefined
      ? ''
      : ` ${node.size.toLocaleString('en-US')} ${isArray ? (node.size === 1 ? 'item' : 'items') : node.size === 1 ? 'key' : 'keys'} `
  const details = h(
    'details',
    { class: 'j-node' },
    h('summary', {}, ...head, h('span', { class: 'j-punct' }, open), h('span', { class: 'j-size' }, size), h('span', { class: 'j-punct' }, close)),
  )
  const list = h('div', { class: 'j-children' }, h('span', { class: 'muted' }, 'loading…'))
  details.append(list)
  let loaded = false
  const load = async () => {
    if (loaded) return
    loaded = true
    try {
      const full = await getJson<StateNode>('/api/state', { model, path: JSON.stringify(path) })
      list.replaceChildren(...(full.children ?? []).map((child) => lazyStateTree(model, [...path, child.key], child, child.key)))
      if (full.more) list.append(h('div', { class: 'muted' }, `… and ${full.more.toLocaleString('en-US')} more`))
    } catch (error) {
      list.replaceChildren(h('span', { class: 'error' }, (error as Error).message))
    }
  }
  details.addEventListener('toggle', () => {
    if (details.open) void load()
  })
  if (path.length === 0) {
    details.open = true
    void load()
  }
  return h('div', { class: 'j-row' }, details)
}
