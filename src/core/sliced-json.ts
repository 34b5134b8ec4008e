/**
 * `JSON.stringify`, cut into slices between which the event loop runs, so
 * that saving a big read model never freezes the program for long. The text
 * is exactly what `JSON.stringify` gives; only the work is spread out.
 *
 * It walks the big containers itself and hands everything small to the
 * native `JSON.stringify` in batches of a few thousand values: V8's
 * serializer is fastest on small objects (a map of 400,000 entries
 * stringified whole is slower than the same entries in batches of 500).
 */

/** How the walk gives the event loop its turn. */
export interface Slicing {
  /** The longest run of work between two turns of the event loop, in milliseconds. */
  sliceMs: number
  /** Resolves on a later turn of the event loop (after pending I/O and timers). */
  nextTurn(): Promise<void>
}

/** Values a batch may hold before it is stringified: about a tenth of a millisecond of work. */
const batchNodes = 2048

/** The default: slices of at most ~10 ms, a timer of 0 ms between them. */
export const defaultSlicing: Slicing = {
  sliceMs: 10,
  nextTurn: () => new Promise<void>((resolve) => setTimeout(resolve, 0)),
}

/**
 * Counts the values in `value` (itself, and everything inside it), stopping
 * once the count passes `limit`: small values are stringified whole, big
 * ones walked. A cycle counts as big and is then reported by the walk.
 *
 * Listing an object's keys is the one step that cannot be cut into slices
 * (V8 collects them all at once: ~0.3 µs a key), so the keys of a big
 * object are kept in `listed` for the walk, never listed twice.
 */
function countValues(value: unknown, limit: number, listed: Map<object, string[]>): number {
  if (typeof value !== 'object' || value === null) return 1
  let count = 0
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const next = stack.pop()
    if (++count > limit) return count
    if (typeof next !== 'object' || next === null) continue
    if (listed.has(next)) return limit + 1
    if (Array.isArray(next)) {
      if (count + next.length > limit) return limit + 1
      for (let i = 0; i < next.length; i++) stack.push(next[i])
      continue
    }
    const keys = Object.keys(next)
    if (count + keys.length > limit) {
      listed.set(next, keys)
      return limit + 1
    }
    for (let i = 0; i < keys.length; i++) stack.push((next as Record<string, unknown>)[keys[i]!])
  }
  return count
}

/** Whether `JSON.stringify` would write `value` as its own keys or elements, so the walk may do it instead. */
function isWalkable(value: unknown): value is Record<string, unknown> | unknown[] {
  if (typeof value !== 'object' || value === null) return false
  if (Array.isArray(value)) return true
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false
  return !(value instanceof Number || value instanceof String || value instanceof Boolean || value instanceof BigInt)
}

/** Collects the text in pieces of ~64 KiB, and yields to the event loop when a slice is used up. */
class Output {
  readonly pieces: string[] = []
  private current = ''
  private sliceStart = performance.now()
  constructor(private readonly slicing: Slicing) {}

  write(text: string): void {
    this.current += text
    if (this.current.length >= 65536) {
      this.pieces.push(this.current)
      this.current = ''
    }
  }

  async pause(): Promise<void> {
    if (performance.now() - this.sliceStart < this.slicing.sliceMs) return
    await this.slicing.nextTurn()
    this.sliceStart = performance.now()
  }

  end(): string[] {
    if (this.current !== '') this.pieces.push(this.current)
    this.current = ''
    return this.pieces
  }
}

async function walk(container: Record<string, unknown> | unknown[], out: Output, ancestors: Set<object>, listed: Map<object, string[]>): Promise<void> {
  if (ancestors.has(container)) throw new TypeError('Converting circular structure to JSON')
  ancestors.add(container)
  const isArray = Array.isArray(container)
  const keys = isArray ? undefined : (listed.get(container) ?? Object.keys(container))
  listed.delete(container)
  const length = isArray ? container.length : keys!.length
  out.write(isArray ? '[' : '{')
  let wrote = false
  let batch: Record<string, unknown> | unknown[] = isArray ? [] : {}
  let batched = 0
  let inBatch = 0
  const writeBatch = () => {
    if (inBatch === 0) return
    // The batch's own brackets come off: its entries continue this container's.
    const text = JSON.stringify(batch)
    if (text.length > 2) {
      out.write(wrote ? `,${text.slice(1, -1)}` : text.slice(1, -1))
      wrote = true
    }
    batch = isArray ? [] : {}
    batched = 0
    inBatch = 0
  }
  for (let i = 0; i < length; i++) {
    const key = isArray ? i : keys![i]!
    let child = (container as Record<string, unknown>)[key]
    // toJSON gets the key it would get from JSON.stringify, not its index in a batch.
    if (isArray && typeof (child as { toJSON?: unknown } | null)?.toJSON === 'function') child = (child as { toJSON(key: string): unknown }).toJSON(String(i))
    const size = countValues(child, batchNodes, listed)
    if (size > batchNodes && isWalkable(child)) {
      writeBatch()
      const prefix = wrote ? ',' : ''
      out.write(isArray ? prefix : `${prefix}${JSON.stringify(key)}:`)
      await walk(child, out, ancestors, listed)
      wrote = true
      await out.pause()
      continue
    }
    if (isArray) (batch as unknown[]).push(child)
    else if (key === '__proto__') Object.defineProperty(batch, key, { value: child, enumerable: true, writable: true, configurable: true })
    else (batch as Record<string, unknown>)[key as string] = child
    inBatch++
    batched += size
    if (batched >= batchNodes) {
      writeBatch()
      await out.pause()
    }
  }
  writeBatch()
  out.write(isArray ? ']' : '}')
  ancestors.delete(container)
}

/**
 * The text of `JSON.stringify(value)` in pieces (join them for the whole),
 * built in slices of at most about `slicing.sliceMs` between which the
 * event loop runs. `value` must not change until the promise settles.
 * Rejects as `JSON.stringify` throws (a cycle, a BigInt); resolves with
 * `undefined` where it gives `undefined`.
 */
export async function stringifyInSlices(value: unknown, slicing: Slicing = defaultSlicing): Promise<string[] | undefined> {
  if (typeof (value as { toJSON?: unknown } | null)?.toJSON === 'function') value = (value as { toJSON(key: string): unknown }).toJSON('')
  const listed = new Map<object, string[]>()
  if (!isWalkable(value) || countValues(value, batchNodes, listed) <= batchNodes) {
    const text = JSON.stringify(value)
    return text === undefined ? undefined : [text]
  }
  const out = new Output(slicing)
  await walk(value, out, new Set(), listed)
  return out.end()
}
