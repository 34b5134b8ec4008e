/**
 * The window of records a log wrote last. Iterators that keep up with the
 * log are served from here instead of reading the storage back.
 */

/** How many just-written records (and bytes of them) are kept. */
const recentCapacity = 4096
const recentCapacityBytes = 4 * 1024 * 1024

/** The records a log wrote last, by index. */
export interface RecentRecords {
  /** Adds records just written, the first at index `first`. A gap (someone else wrote in between) starts the window over. */
  remember(first: number, records: readonly string[]): void
  /** The record of event `index`, if the window holds it. */
  record(index: number): string | undefined
  /** Lets go of every record (the log closed). */
  clear(): void
}

/** An empty window whose next record will be event `first`. */
export function recentRecords(first: number): RecentRecords {
  let recent: string[] = []
  let recentBytes = 0
  let recentFirst = first
  return {
    remember(first, records) {
      if (first !== recentFirst + recent.length) {
        // Someone else wrote in between (another process or machine): start over.
        recent = []
        recentBytes = 0
        recentFirst = first
      }
      for (const record of records) {
        recent.push(record)
        recentBytes += record.length
      }
      // Trimmed only once the window is twice its size, so trimming costs O(1) per record.
      if (recent.length > 2 * recentCapacity || recentBytes > 2 * recentCapacityBytes) {
        let drop = 0
        while (recent.length - drop > recentCapacity || recentBytes > recentCapacityBytes) {
          recentBytes -= recent[drop]!.length
          drop++
        }
        recent = recent.slice(drop)
        recentFirst += drop
      }
    },
    record(index) {
      const offset = index - recentFirst
      return offset >= 0 && offset < recent.length ? recent[offset] : undefined
    },
    clear() {
      recentFirst += recent.length
      recent = []
      recentBytes = 0
    },
  }
}
