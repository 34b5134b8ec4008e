/**
 * What `inspect` knows about a log without keeping its events: each event's
 * type, time and cause in typed arrays, counts, the field catalogue and who
 * caused what. It is built by following the log once, as a read-only
 * follower, and grows as the log grows, so every view the page asks for is
 * computed from it (or from the few events a page of the browser shows),
 * never by sending the log to the browser.
 */
import type { Log } from '../../index.js'
import { FieldCatalogue, noType } from '../catalogue.js'
import { eventTime } from '../time-range.js'
import { fastScan } from './fast-scan.js'

/** A typed array that grows by doubling. */
class Column<T extends Float64Array | Int32Array | Uint16Array> {
  #make: (length: number) => T
  values: T
  constructor(make: (length: number) => T) {
    this.#make = make
    this.values = make(1024)
  }
  set(index: number, value: number): void {
    if (index >= this.values.length) {
      const bigger = this.#make(Math.max(this.values.length * 2, index + 1))
      bigger.set(this.values)
      this.values = bigger
    }
    this.values[index] = value
  }
}

/** What the index has seen so far, sent to the page on every change. */
export interface IndexSummary {
  /** Events in the log (as the follower last heard). */
  length: number
  /** Events indexed so far: `length` once caught up. */
  indexed: number
  /** Events the field catalogue has seen so far (it follows the index). */
  catalogued: number
  /** Event types, most frequent first, with their counts. */
  types: { type: string; count: number }[]
  /** Events without a time. */
  untimed: number
  /** Time of the first and last timed event (ms), if any. */
  firstAt: number | undefined
  lastAt: number | undefined
}

/** Which events a view is about: types, a time range (ms, bounds included), an index range. */
export interface Selection {
  types?: readonly string[]
  since?: number
  until?: number
}

export class LogIndex {
  readonly catalogue = new FieldCatalogue()
  #typeNames: string[] = []
  #typeIds = new Map<string, number>()
  #typeCounts: number[] = []
  #typeOf = new Column((n) => new Uint16Array(n))
  /** ms since the epoch, NaN when the event has no time. */
  #atOf = new Column((n) => new Float64Array(n))
  #causes = new Map<number, number[]>()
  #indexed = 0
  #untimed = 0
  #firstTimed = -1
  #firstAt: number | undefined
  #lastAt: number | undefined
  #listeners = new Set<() => void>()
  #caughtUp: Promise<void>
  #failure: Error | undefined

  #catalogued = 0

  /**
   * Starts following `log` from its first event; `signal` stops it. With
   * `filename` (a log read without upcasting), the events stored now are
   * first read by their lines' text (see fast-scan.ts), which is several
   * times faster; the field catalogue follows through the log.
   */
  constructor(
    readonly log: Log<Record<string, unknown>>,
    signal: AbortSignal,
    filename?: string,
  ) {
    let caughtUp!: () => void
    const firstViewReady = new Promise<void>((resolve) => (caughtUp = resolve))
    this.#caughtUp = firstViewReady
    const storedAtStart = log.length
    if (storedAtStart === 0) caughtUp()
    const fail = (error: unknown) => {
      if (!signal.aborted) this.#failure ??= error as Error
    }
    void (async () => {
      try {
        let next = 0
        if (filename !== undefined && storedAtStart > 0) {
          let scanned = 0
          next = await fastScan(
            filename,
            storedAtStart,
            (index, type, at, causedBy) => {
              this.#addFields(index, type ?? noType, at, causedBy)
              if ((++scanned & 0x3ffff) === 0) this.#changed()
            },
            signal,
          )
          if (next >= log.length) caughtUp()
          this.#changed()
        }
        for await (const event of log.events({ after: next - 1, signal })) {
          const cause = event._meta?.causedBy
          this.#addFields(event.index, typeof event.type === 'string' ? event.type : noType, eventTime(event), typeof cause === 'number' ? cause : undefined)
          if (this.#indexed >= log.length) {
            caughtUp()
            this.#changed()
          } else if ((this.#indexed & 0xffff) === 0) this.#changed()
        }
      } catch (error) {
        fail(error)
      } finally {
        caughtUp()
        this.#changed()
      }
    })()
    void (async () => {
      try {
        // The catalogue reads every field of every event: it starts once the first view is ready, and does not slow it.
        await firstViewReady
        for await (const event of log.events({ signal })) {
          this.catalogue.add(event)
          this.#catalogued = event.index + 1
          if (this.#catalogued >= log.length || (this.#catalogued & 0xffff) === 0) this.#changed()
        }
      } catch (error) {
        fail(error)
      }
    })()
  }

  /** Events the field catalogue has seen so far. */
  get catalogued(): number {
    return this.#catalogued
  }

  /** Resolves once every event stored at the start is indexed. */
  get caughtUp(): Promise<void> {
    return this.#caughtUp
  }

  /** Why following the log stopped (the file was replaced, say), if it did. */
  get failure(): Error | undefined {
    return this.#failure
  }

  get indexed(): number {
    return this.#indexed
  }

  /** Calls `listener` whenever events are indexed; returns a function that stops the calls. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #changed(): void {
    for (const listener of this.#listeners) listener()
  }

  #addFields(i: number, type: string, at: number | undefined, cause: number | undefined): void {
    let id = this.#typeIds.get(type)
    if (id === undefined) {
      id = this.#typeNames.length
      this.#typeNames.push(type)
      this.#typeIds.set(type, id)
      this.#typeCounts.push(0)
    }
    this.#typeCounts[id]!++
    this.#typeOf.set(i, id)
    this.#atOf.set(i, at ?? Number.NaN)
    if (at === undefined) this.#untimed++
    else {
      if (this.#firstTimed < 0) this.#firstTimed = i
      this.#firstAt ??= at
      this.#lastAt = at
    }
    if (cause !== undefined && cause >= 0 && cause < i) {
      const caused = this.#causes.get(cause)
      if (caused === undefined) this.#causes.set(cause, [i])
      else caused.push(i)
    }
    this.#indexed = i + 1
  }

  summary(): IndexSummary {
    const types = this.#typeNames.map((type, id) => ({ type, count: this.#typeCounts[id]! })).sort((a, b) => b.count - a.count || a.type.localeCompare(b.type))
    return {
      length: Math.max(this.log.length, this.#indexed),
      indexed: this.#indexed,
      catalogued: this.#catalogued,
      types,
      untimed: this.#untimed,
      firstAt: this.#firstAt,
      lastAt: this.#lastAt,
    }
  }

  typeOf(index: number): string {
    return this.#typeNames[this.#typeOf.values[index]!]!
  }

  /** The event's time in ms, or `undefined` when it has none. */
  atOf(index: number): number | undefined {
    const at = this.#atOf.values[index]!
    return Number.isNaN(at) ? undefined : at
  }

  /** The events `index` caused directly. */
  causedBy(index: number): readonly number[] {
    return this.#causes.get(index) ?? []
  }

  /** A predicate on indices for `selection` (types and times only: the index knows nothing else). */
  #test(selection: Selection): (index: number) => boolean {
    const typeIds = selection.types === undefined ? undefined : new Set(selection.types.map((type) => this.#typeIds.get(type) ?? -1))
    const { since, until } = selection
    const types = this.#typeOf.values
    const times = this.#atOf.values
    return (i) => {
      if (typeIds !== undefined && !typeIds.has(types[i]!)) return false
      if (since !== undefined || until !== undefined) {
        const at = times[i]!
        if (Number.isNaN(at) || (since !== undefined && at < since) || (until !== undefined && at > until)) return false
      }
      return true
    }
  }

  /**
   * The first index from which events can be at or after `since`: times never
   * go backwards in a log, so a binary search over the timed events finds it.
   */
  #firstIndexSince(since: number | undefined): number {
    if (since === undefined || this.#firstTimed < 0) return 0
    const times = this.#atOf.values
    let low = this.#firstTimed
    let high = this.#indexed
    while (low < high) {
      const middle = (low + high) >>> 1
      const at = times[middle]!
      // An untimed event among timed ones (written with metadata: false) cannot steer the search: look further on.
      if (Number.isNaN(at) || at < since) low = middle + 1
      else high = middle
    }
    return low
  }

  /**
   * Up to `limit` indices of events that `selection` selects and `accept`
   * keeps, going up from `after + 1` or down from `before - 1`.
   */
  candidates(selection: Selection, direction: { after: number } | { before: number }, limit: number): { indices: number[]; scannedTo: number } {
    const test = this.#test(selection)
    const indices: number[] = []
    if ('after' in direction) {
      let i = Math.max(direction.after + 1, this.#firstIndexSince(selection.since))
      for (; i < this.#indexed && indices.length < limit; i++) {
        if (selection.until !== undefined && this.#firstTimed >= 0 && this.#atOf.values[i]! > selection.until) break
        if (test(i)) indices.push(i)
      }
      return { indices, scannedTo: i - 1 }
    }
    let i = Math.min(direction.before, this.#indexed) - 1
    for (; i >= 0 && indices.length < limit; i--) if (test(i)) indices.push(i)
    return { indices: indices.reverse(), scannedTo: i + 1 }
  }

  /**
   * Counts per type in `buckets` equal slices of [from, to): of time (ms) on
   * the `time` axis, of indices on the `index` axis. Events without a time
   * are not on the time axis.
   */
  histogram(axis: 'time' | 'index', from: number, to: number, buckets: number): { counts: Record<string, number[]>; total: number } {
    const counts = this.#typeNames.map(() => new Array<number>(buckets).fill(0))
    const types = this.#typeOf.values
    const times = this.#atOf.values
    const width = (to - from) / buckets
    let total = 0
    if (axis === 'index') {
      for (let i = Math.max(0, Math.floor(from)); i < Math.min(to, this.#indexed); i++) {
        counts[types[i]!]![Math.min(buckets - 1, Math.floor((i - from) / width))]!++
        total++
      }
    } else {
      for (let i = this.#firstIndexSince(from); i < this.#indexed; i++) {
        const at = times[i]!
        if (Number.isNaN(at)) continue
        if (at >= to) break
        if (at < from) continue
        counts[types[i]!]![Math.min(buckets - 1, Math.floor((at - from) / width))]!++
        total++
      }
    }
    return { counts: Object.fromEntries(this.#typeNames.map((type, id) => [type, counts[id]!])), total }
  }
}
