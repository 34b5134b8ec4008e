/** A few DOM helpers: elements are built with text content only, so no event data is ever read as HTML. */

type Child = Node | string | number | null | undefined | false
type Attributes = Record<string, string | number | boolean | ((event: Event) => void) | undefined>

/** `h('td', { class: 'n' }, '12')`: an element with attributes, listeners (`onclick`) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue
    if (typeof value === 'function') element.addEventListener(name.slice(2), value)
    else if (value === true) element.setAttribute(name, '')
    else element.setAttribute(name, String(value))
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    element.append(typeof child === 'object' ? child : String(child))
  }
  return element
}

/** Replaces an element's children. */
export function fill(element: Element, ...children: Child[]): void {
  element.replaceChildren()
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    element.append(typeof child === 'object' ? child : String(child))
  }
}

/** `1234567` → `1,234,567`. */
export const count = (n: number): string => n.toLocaleString('en-US')

/** `1 event`, `2 events`. */
export const plural = (n: number, one: string, many: string): string => `${count(n)} ${n === 1 ? one : many}`

/** A time as the CLI prints it: `2026-12-01 21:30:05` (UTC). */
export const moment = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ')

/** A byte count in B, kB, MB or GB, as the commands print it. */
export { formatBytes as bytes } from '../../format.js'

const palette = ['#4f7cff', '#f59f00', '#12b886', '#e64980', '#7950f2', '#15aabf', '#fa5252', '#82c91e', '#fd7e14', '#868e96']
const colors = new Map<string, string>()

/** One color per type, the same everywhere on the page (most frequent types get the first colors). */
export function colorOf(type: string): string {
  let color = colors.get(type)
  if (color === undefined) {
    color = palette[colors.size % palette.length]!
    colors.set(type, color)
  }
  return color
}
