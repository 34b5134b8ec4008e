/**
 * Another tab of the same site upgrades or deletes the IndexedDB database
 * while this tab's logs and state stores use it, in real headless Chromium:
 * this tab gets out of the way at once, and every later use either works on a
 * new connection or fails with an error that says what to do.
 */
import type { Page } from 'playwright-core'
import { afterEach, describe, expect, it } from 'vitest'
import { useBrowser } from './harness.js'

const { openHarness } = useBrowser()

let counter = 0
function uniqueName(): string {
  return `versionchange-${process.pid}-${++counter}`
}

interface Failure {
  name?: string
  code?: string
  message?: string
}

/** Deletes the database from `page`, as another copy of the site's code may; fails if a connection blocks it. */
function deleteDatabase(page: Page): Promise<string> {
  return page.evaluate(
    () =>
      new Promise<string>((resolve) => {
        const request = indexedDB.deleteDatabase('tiny-event-sourcing')
        request.onsuccess = () => resolve('deleted')
        request.onerror = () => resolve(`failed: ${request.error?.name}`)
        request.onblocked = () => resolve('blocked')
      }),
  )
}

const pages: Page[] = []
async function newPage(): Promise<Page> {
  const page = await openHarness()
  pages.push(page)
  return page
}

afterEach(async () => {
  // Every test starts on an origin without the database.
  const cleaner = await newPage()
  expect(await deleteDatabase(cleaner)).toBe('deleted')
  for (const page of pages.splice(0)) await page.close()
})

describe('another tab upgrades the database past the version this copy of the library reads', () => {
  it('makes appends, reads, state stores and new logs fail with INDEXEDDB_UPGRADED saying to reload, also after a reload; a deletion then frees the origin', async () => {
    const name = uniqueName()
    const pageA = await newPage()
    const pageB = await newPage()
    await pageA.evaluate(async (filename) => {
      const { initLog, fsStoreBackend } = window.tinyEventSourcing
      const first = await initLog<{ n: number }>({ filename })
      for (let n = 0; n < 3; n++) await first.append({ n })
      await first.close()
      // Opened again, so its events are read from IndexedDB, not from what it just wrote.
      window.kept.log = await initLog<{ n: number }>({ filename })
      window.kept.backend = fsStoreBackend(`${filename}.json`)
      await window.kept.backend.write({ _version: 2, state: { n: 2 } })
    }, name)

    // What a newer copy of the library does: open the database at a version above this copy's, changing its layout.
    const upgraded = await pageB.evaluate(
      () =>
        new Promise<string>((resolve) => {
          const request = indexedDB.open('tiny-event-sourcing', 100)
          request.onupgradeneeded = () => request.result.createObjectStore('a-newer-store')
          request.onsuccess = () => {
            request.result.close()
            resolve('upgraded')
          }
          request.onerror = () => resolve(`failed: ${request.error?.name}`)
          request.onblocked = () => resolve('blocked')
        }),
    )
    expect(upgraded).toBe('upgraded')

    const failures = await pageA.evaluate(async (filename) => {
      const failure = (error: { name?: string; code?: string; message?: string }) => ({ name: error.name, code: error.code, message: error.message })
      const attempt = (run: () => Promise<unknown>) => run().then(() => ({ name: 'none' }), failure)
      const { log, backend } = window.kept
      return {
        append: await attempt(() => log.append({ n: 3 })),
        read: await attempt(async () => {
          for await (const _ of log.events()) break
        }),
        stateRead: await attempt(() => backend.read()),
        stateWrite: await attempt(() => backend.write({ _version: 3, state: { n: 3 } })),
        newLog: await attempt(() => window.tinyEventSourcing.initLog({ filename: `${filename}-new` })),
      }
    }, name)
    for (const [use, failure] of Object.entries(failures) as [string, Failure][]) {
      expect(failure, use).toMatchObject({ name: 'TinyEventSourcingError', code: 'INDEXEDDB_UPGRADED' })
      expect(failure.message, use).toContain('version 100')
      expect(failure.message, use).toContain('reload the page')
    }

    // Reloading with the same (older) copy cannot help: it says so again, without having heard the upgrade.
    await pageA.reload()
    await pageA.waitForFunction(() => window.harnessReady === true)
    const afterReload = await pageA.evaluate(
      (filename) =>
        window.tinyEventSourcing.initLog({ filename }).then(
          () => ({ code: 'none', message: '' }),
          (error: { code?: string; message: string }) => ({ code: error.code, message: error.message }),
        ),
      name,
    )
    expect(afterReload.code).toBe('INDEXEDDB_UPGRADED')
    expect(afterReload.message).toContain('reload the page')

    // Once the newer copy's database is gone, this copy creates its own again.
    expect(await deleteDatabase(pageB)).toBe('deleted')
    const recovered = await pageA.evaluate(async (filename) => {
      const { initLog, fsStoreBackend } = window.tinyEventSourcing
      const backend = fsStoreBackend<{ n: number }>(`${filename}.json`)
      const before = await backend.read()
      await backend.write({ _version: 0, state: { n: 0 } })
      const log = await initLog<{ n: number }>({ filename })
      const appended = await log.append({ n: 0 })
      await log.close()
      return { before, after: await backend.read(), index: appended.index }
    }, name)
    expect(recovered).toEqual({ before: null, after: { _version: 0, state: { n: 0 } }, index: 0 })
  })
})

describe('another tab deletes the database', () => {
  it('is not blocked; the open log then fails with LOG_CHANGED saying to open it again, and state stores and reopened logs work', async () => {
    const name = uniqueName()
    const pageA = await newPage()
    const pageB = await newPage()
    await pageA.evaluate(async (filename) => {
      const { initLog, fsStoreBackend } = window.tinyEventSourcing
      window.kept.log = await initLog<{ n: number }>({ filename })
      await window.kept.log.append({ n: 0 })
      await window.kept.log.append({ n: 1 })
      window.kept.backend = fsStoreBackend(`${filename}.json`)
      await window.kept.backend.write({ _version: 1, state: { n: 1 } })
    }, name)

    expect(await deleteDatabase(pageB)).toBe('deleted')

    const seen = await pageA.evaluate(async (filename) => {
      const { log, backend } = window.kept
      const append = await log.append({ n: 2 }).then(
        () => ({ code: 'none', message: '' }),
        (error: { code?: string; message: string }) => ({ code: error.code, message: error.message }),
      )
      const stateBefore = await backend.read()
      await backend.write({ _version: 0, state: { n: 0 } })
      const stateAfter = await backend.read()
      await log.close()
      const reopened = await window.tinyEventSourcing.initLog<{ n: number }>({ filename })
      const lengthReopened = reopened.length
      const appended = await reopened.append({ n: 0 })
      const replayed: number[] = []
      for await (const event of reopened.events()) {
        replayed.push(event.index)
        break
      }
      await reopened.close()
      return { append, stateBefore, stateAfter, lengthReopened, index: appended.index, replayed }
    }, name)
    expect(seen.append.code).toBe('LOG_CHANGED')
    expect(seen.append.message).toContain(name)
    expect(seen.append.message).toContain('deleted')
    expect(seen.append.message).toContain('open it again')
    expect(seen).toMatchObject({ stateBefore: null, stateAfter: { _version: 0, state: { n: 0 } }, lengthReopened: 0, index: 0, replayed: [0] })
  })

  it('leaves a log in the middle of a burst of appends with each append either stored or refused, never a raw DOMException', async () => {
    const name = uniqueName()
    const pageA = await newPage()
    const pageB = await newPage()
    await pageA.evaluate(async (filename) => {
      const log = await window.tinyEventSourcing.initLog<{ n: number }>({ filename })
      window.kept.log = log
      window.kept.outcomes = []
      window.kept.burst = (async () => {
        for (let n = 0; n < 400; n++) {
          window.kept.outcomes.push(
            await log.append({ n }).then(
              () => 'stored',
              (error: { code?: string; name?: string }) => error.code ?? error.name,
            ),
          )
        }
      })()
    }, name)
    await pageA.waitForFunction(() => window.kept.outcomes.length >= 20)
    expect(await deleteDatabase(pageB)).toBe('deleted')
    const outcomes = await pageA.evaluate(async () => {
      await window.kept.burst
      return window.kept.outcomes as string[]
    })
    const firstRefused = outcomes.indexOf('LOG_CHANGED')
    expect(firstRefused).toBeGreaterThan(0)
    expect(outcomes.slice(0, firstRefused).every((outcome) => outcome === 'stored')).toBe(true)
    expect(outcomes.slice(firstRefused).every((outcome) => outcome === 'LOG_CHANGED')).toBe(true)
  })
})
