/**
 * The browser build in a dedicated module Web Worker (pages/log-worker.js), in
 * real headless Chromium: the same code runs there as in a page, and the
 * worker shares the site's IndexedDB, Web Locks and BroadcastChannels with
 * its pages, so a page and a worker follow the same rules as two tabs.
 */
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { expectWriterRefused, followInPage, useBrowser } from './harness.js'

const { openHarness } = useBrowser()

let counter = 0
function uniqueName(): string {
  return `worker-log-${process.pid}-${++counter}`
}

/** What the worker answers a command with, or the error it failed with (its fields, as Error objects lose them when posted). */
type Answer = { result: any } | { error: { name?: string; code?: string; message: string; isLogLockedError?: boolean } }

/**
 * Starts pages/log-worker.js as a module worker in the page and waits until
 * it has imported the build. It is kept as `window.kept[key]`, with what the
 * worker reported outside its commands (uncaught errors) in `problems`.
 */
async function startWorker(page: Page, key = 'worker'): Promise<void> {
  await page.evaluate(async (key) => {
    const worker = new Worker('/pages/log-worker.js', { type: 'module' })
    const pending = new Map<number, (answer: unknown) => void>()
    const problems: string[] = []
    let nextId = 0
    window.kept[key] = {
      worker,
      problems,
      ask: (command: string, args?: unknown) =>
        new Promise((answer) => {
          pending.set(nextId, answer)
          worker.postMessage({ id: nextId++, command, args })
        }),
    }
    await new Promise<void>((ready, failed) => {
      worker.onmessage = ({ data }: MessageEvent) => {
        if (data.ready) return ready()
        if (data.problem) return void problems.push(data.problem)
        const answer = pending.get(data.id)
        pending.delete(data.id)
        answer?.('error' in data ? { error: data.error } : { result: data.result })
      }
      // A script that fails to load or throws at the top level: nothing more will answer.
      worker.onerror = (event: ErrorEvent) => {
        const problem = `the worker failed: ${event.message || 'it did not load'}`
        problems.push(problem)
        for (const answer of pending.values()) answer({ error: { message: problem } })
        pending.clear()
        failed(new Error(problem))
      }
    })
  }, key)
}

/** Sends the worker `key` a command and waits for its answer. */
function ask(page: Page, command: string, args?: unknown, key = 'worker'): Promise<Answer> {
  return page.evaluate(([key, command, args]) => window.kept[key as string].ask(command, args), [key, command, args] as const)
}

/** What the worker reported outside its commands; expected to be nothing. */
function problems(page: Page, key = 'worker'): Promise<string[]> {
  return page.evaluate((key) => window.kept[key].problems, key)
}

describe('the browser build in a dedicated Web Worker', () => {
  it('runs initLog, append, initStateStore, project and catchupSubscribe there; the page finds the log and the read model', async () => {
    const page = await openHarness()
    await startWorker(page)
    expect(await ask(page, 'where')).toEqual({
      result: { scope: 'DedicatedWorkerGlobalScope', hasWindow: false, hasDocument: false, hasPagehide: false, hasLocks: true },
    })

    const filename = uniqueName()
    const stateName = `${filename}-count.json`
    expect(await ask(page, 'open', { filename })).toEqual({ result: 0 })
    expect(await ask(page, 'append', { events: [0, 1, 2].map((n) => ({ type: 'counted', n })) })).toEqual({ result: [0, 1, 2] })
    expect(await ask(page, 'follow', { stateName })).toEqual({ result: -1 })
    // Appended while project() and catchupSubscribe() are following the log.
    expect(await ask(page, 'append', { events: [3, 4].map((n) => ({ type: 'counted', n })) })).toEqual({ result: [3, 4] })
    expect(await ask(page, 'caughtUp', { index: 4 })).toEqual({ result: { version: 4, subscribed: [0, 1, 2, 3, 4] } })
    const closed = await ask(page, 'close')
    expect(closed).toEqual({ result: { version: 4, state: { count: 5, ns: [0, 1, 2, 3, 4] } } })

    // The page shares the worker's IndexedDB; the worker's close() released the writer's lock.
    const seen = await page.evaluate(
      async ({ filename, stateName }) => {
        const { initLog, initStateStore, fsStoreBackend } = window.tinyEventSourcing
        const log = await initLog<{ type: string; n: number }>({ filename })
        const events: unknown[] = []
        for await (const event of log.events()) {
          events.push(event)
          if (event.index === log.length - 1) break
        }
        const appendedAt = (await log.append({ type: 'counted', n: 5 })).index
        await log.close()
        const snapshot = await fsStoreBackend(stateName).read()
        const store = await initStateStore({ storeBackend: fsStoreBackend(stateName, { count: 0, ns: [] as number[] }) })
        const reopened = { version: store.getVersion(), state: store.getState() }
        await store.close()
        return { events, appendedAt, snapshot, reopened }
      },
      { filename, stateName },
    )
    const _meta = { at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) }
    expect(seen.events).toEqual([0, 1, 2, 3, 4].map((n) => ({ type: 'counted', n, _meta, index: n })))
    expect(seen.appendedAt).toBe(5)
    expect(seen.snapshot).toMatchObject({ _version: 4, state: { count: 5, ns: [0, 1, 2, 3, 4] } })
    expect(seen.reopened).toEqual({ version: 4, state: { count: 5, ns: [0, 1, 2, 3, 4] } })
    expect(await problems(page)).toEqual([])
    await page.close()
  })

  it('holds the log like a tab does: the page gets LogLockedError, or follows read-only and receives every append', async () => {
    const filename = uniqueName()
    const page = await openHarness()
    await startWorker(page)
    expect(await ask(page, 'open', { filename })).toEqual({ result: 0 })
    expect(await ask(page, 'append', { events: [{ n: 0 }] })).toEqual({ result: [0] })

    await expectWriterRefused(page, filename)
    await followInPage(page, filename)
    expect(await ask(page, 'append', { events: [{ n: 1 }, { n: 2 }, { n: 3 }] })).toEqual({ result: [1, 2, 3] })
    // Pushed over the BroadcastChannel from the worker; generous, as the machine may be busy.
    await page.waitForFunction(() => window.kept.received.length >= 4, undefined, { timeout: 30_000 })
    expect(await page.evaluate(() => window.kept.received)).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
      [3, 3],
    ])

    // A worker ended without close() releases the lock, as a closed tab does; the browser does so shortly after.
    await page.evaluate(() => window.kept.worker.worker.terminate())
    const takenOver = await page.evaluate(async (filename) => {
      for (let attempt = 0; attempt < 200; attempt++) {
        try {
          window.kept.log = await window.tinyEventSourcing.initLog({ filename })
          return attempt
        } catch (error) {
          if ((error as { code?: string }).code !== 'LOG_LOCKED') throw error
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
      return -1
    }, filename)
    expect(takenOver).toBeGreaterThanOrEqual(0)
    expect(await page.evaluate(() => window.kept.log.append({ n: 4 }).then((event: { index: number }) => event.index))).toBe(4)

    // The other way round: while the page writes, a worker is refused with LogLockedError and may follow.
    await startWorker(page, 'second')
    const workerRefused = await ask(page, 'open', { filename }, 'second')
    expect(workerRefused).toMatchObject({ error: { name: 'LogLockedError', code: 'LOG_LOCKED', isLogLockedError: true } })
    expect('error' in workerRefused && workerRefused.error.message).toContain(filename)
    expect(await ask(page, 'open', { filename, readOnly: true }, 'second')).toEqual({ result: 5 })
    expect(await ask(page, 'close', undefined, 'second')).toEqual({ result: null })
    expect(await problems(page, 'second')).toEqual([])
    await page.evaluate(async () => {
      await window.kept.follower.close()
      await window.kept.log.close()
    })
    await page.close()
  })
})
