import type { LogStorage } from './log-storage.js'

/** What the state stores do when the program ends (see `Environment.onExit`). */
export interface ExitHooks {
  /** Time is left for asynchronous work: write what is pending. */
  beforeExit(): void
  /** Only synchronous work can still run: the last chance to save. */
  exit(): void
}

/**
 * What an entry point hands the core: the few things that differ between
 * Node and a page. The core itself knows neither; `src/index.ts` and
 * `src/browser.ts` each bind it to one environment.
 */
export interface Environment {
  /** The storage `initLog({ filename })` opens: a file in Node, IndexedDB in a page. */
  defaultStorage(filename: string, options: { fsync: boolean }): LogStorage
  /**
   * Keeps the program running while a follower waits for another writer's
   * appends, as a pending socket read would; returns the release. Where
   * nothing ends for want of work (a page), it does nothing.
   */
  keepAlive(): () => void
  /** Calls `hooks` when the program is about to end. Called once, by the first state store. */
  onExit(hooks: ExitHooks): void
  /** Reports a problem the program goes on after, such as a failed background write. */
  warn(message: string, code: string): void
}
