/**
 * When a state store writes: at most once per interval however often its
 * state changes (a throttle, not a debounce, so a steady stream of updates
 * is written too), one write at a time, retried after a failure, and with
 * the share of time spent saving a big state kept small.
 */

import { prefixed } from './errors.js'

/** Options of `throttledWriter`. */
export interface ThrottledWriterOptions {
  /** What is written, for the warning after a failed background write. */
  name: string
  /** The least time from the start of one write to the start of the next, in milliseconds. */
  writeInterval: number
  /**
   * Writes the latest state. Resolves with the milliseconds it kept the
   * program busy (building the text to write), or with `undefined` when it
   * wrote nothing because the state changed under it; rejects when the
   * backend fails.
   */
  save(): Promise<number | undefined>
  /** Reports a background failure the program goes on after. */
  warn(message: string, code: string): void
  /**
   * What a save is expected to cost before one was made (the store guesses
   * from how long reading its snapshot took): the first write waits nine
   * times as long, as if one had taken that long. Nothing noticeable for a
   * small state.
   *
   * @default 0
   */
  busyMs?: number
}

/** What a state store asks of its writer. */
export interface ThrottledWriter {
  /** Records a change of the state: it is written within the interval. */
  changed(): void
  /** Writes the latest state now, if it is not written yet, and resolves once it is; rejects if the backend fails. */
  flush(): Promise<void>
  /** Whether a change is not written yet. */
  pending(): boolean
  /** Records that the latest state was written by other means (the exit-time synchronous write). */
  written(): void
  /** Stops the timer: nothing is written in the background any more. */
  stop(): void
}

/**
 * Saving takes at most this share of the time: after a save that kept the
 * program busy for `b` ms, the next starts no sooner than `b × (1 / share - 1)`
 * after it ended (9 × b for a tenth).
 */
const busyShare = 0.1

/** Writes in the background per `options`; see `ThrottledWriter`. */
export function throttledWriter(options: ThrottledWriterOptions): ThrottledWriter {
  const { name, writeInterval, save, warn, busyMs = 0 } = options
  /** The wait after a failed write: retries come no faster than once a second. */
  const retryInterval = Math.max(writeInterval, 1000)
  /** Counts changes; `savedChanges` is the count the last successful write reflected. */
  let changes = 0
  let savedChanges = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  let writing: Promise<void> | undefined
  /** The earliest time the next write may start. */
  let nextWriteAt = Date.now() + busyMs * (1 / busyShare - 1)
  /** A background failure was reported and no write has succeeded since. */
  let reported = false
  let stopped = false

  function schedule(): void {
    if (stopped || timer !== undefined || writing !== undefined || savedChanges === changes) return
    timer = setTimeout(
      () => {
        timer = undefined
        write().catch(reportBackgroundFailure)
      },
      Math.max(0, nextWriteAt - Date.now()),
    )
    // Never keeps the process alive on its own: the exit hooks save what is pending.
    ;(timer as { unref?: () => void }).unref?.()
  }

  function reportBackgroundFailure(error: unknown): void {
    if (reported) return // once, until a write succeeds again
    reported = true
    warn(
      prefixed(
        `writing the state store ${name} failed (${(error as Error)?.message ?? String(error)}); it is retried every ${retryInterval} ms and on flush()`,
      ),
      'TINY_EVENT_SOURCING_STATE_WRITE_FAILED',
    )
  }

  /** Writes the current state; one write at a time. */
  async function write(): Promise<void> {
    const writtenChanges = changes
    const started = Date.now()
    nextWriteAt = started + writeInterval
    // Started now; a save that throws instead of rejecting rejects too.
    const thisWrite = (async () => {
      try {
        const busyMs = await save()
        if (busyMs === undefined) return // changed under the save: written again at the next turn
        if (writtenChanges > savedChanges) savedChanges = writtenChanges
        reported = false
        nextWriteAt = Math.max(nextWriteAt, Date.now() + busyMs * (1 / busyShare - 1))
      } catch (error) {
        nextWriteAt = started + retryInterval
        throw error
      }
    })()
    writing = thisWrite
    try {
      await thisWrite
    } finally {
      writing = undefined
      schedule()
    }
  }

  return {
    changed() {
      changes++
      schedule()
    },
    async flush() {
      const target = changes
      while (savedChanges < target) {
        if (writing !== undefined) {
          // If it fails, the next turn writes again, and that failure rejects the flush.
          await writing.catch(() => {})
          continue
        }
        clearTimeout(timer)
        timer = undefined
        await write()
      }
    },
    pending: () => savedChanges !== changes,
    written() {
      savedChanges = changes
    },
    stop() {
      stopped = true
      clearTimeout(timer)
      timer = undefined
    },
  }
}
