/** Reads the few events a page shows, by index, from the log itself. */
import type { Indexed, Log } from '../../index.js'

type StoredEvent = Indexed<Record<string, unknown>>

/** Indices closer than this are read in one pass rather than by seeking to each. */
const readThroughGap = 64

/** The events at `indices` (ascending), read through the log: runs of nearby indices in one pass, the others by seeking. */
export async function readEvents(log: Log<Record<string, unknown>>, indices: readonly number[]): Promise<StoredEvent[]> {
  const events: StoredEvent[] = []
  let at = 0
  while (at < indices.length) {
    let end = at
    while (end + 1 < indices.length && indices[end + 1]! - indices[end]! <= readThroughGap) end++
    const wanted = new Set(indices.slice(at, end + 1))
    const last = indices[end]!
    for await (const event of log.events({ after: indices[at]! - 1 })) {
      if (wanted.has(event.index)) events.push(event)
      if (event.index >= last) break
    }
    at = end + 1
  }
  return events
}
