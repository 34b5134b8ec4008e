/**
 * A structural diff of two JSON values, as `try --against` prints it: what a
 * new reducer's state adds, removes and changes compared with a stored one.
 * Objects are compared key by key and arrays item by item, down to the
 * values that differ, so one changed title is one line, not a whole object.
 */

/** One difference, at a path such as `byUrl["https://a.example"].title` or `items[3]`. */
export type Difference =
  | { kind: 'added'; path: string; value: unknown }
  | { kind: 'removed'; path: string; value: unknown }
  | { kind: 'changed'; path: string; before: unknown; after: unknown }

const identifier = /^[A-Za-z_$][\w$]*$/

function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`
  if (identifier.test(key)) return path === '' ? key : `${path}.${key}`
  return `${path}[${JSON.stringify(key)}]`
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Every difference between `before` and `after` (JSON values), in key order of `before`, then the keys only `after` has. */
export function jsonDiff(before: unknown, after: unknown, path = ''): Difference[] {
  const differences: Difference[] = []
  const walk = (a: unknown, b: unknown, at: string): void => {
    if (isObject(a) && isObject(b)) {
      for (const key of Object.keys(a)) {
        if (!(key in b)) differences.push({ kind: 'removed', path: childPath(at, key), value: a[key] })
        else walk(a[key], b[key], childPath(at, key))
      }
      for (const key of Object.keys(b)) if (!(key in a)) differences.push({ kind: 'added', path: childPath(at, key), value: b[key] })
      return
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      const common = Math.min(a.length, b.length)
      for (let i = 0; i < common; i++) walk(a[i], b[i], childPath(at, i))
      for (let i = common; i < a.length; i++) differences.push({ kind: 'removed', path: childPath(at, i), value: a[i] })
      for (let i = common; i < b.length; i++) differences.push({ kind: 'added', path: childPath(at, i), value: b[i] })
      return
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) differences.push({ kind: 'changed', path: at, before: a, after: b })
  }
  walk(before, after, path)
  return differences
}

const valueChars = 100

function short(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined'
  return text.length > valueChars ? `${text.slice(0, valueChars - 1)}…` : text
}

/** One line per difference: `+ path value`, `- path value`, `~ path before → after`. */
export function formatDifference(difference: Difference): string {
  const path = difference.path === '' ? '(the whole state)' : difference.path
  switch (difference.kind) {
    case 'added':
      return `+ ${path}: ${short(difference.value)}`
    case 'removed':
      return `- ${path}: ${short(difference.value)}`
    case 'changed':
      return `~ ${path}: ${short(difference.before)} → ${short(difference.after)}`
  }
}
