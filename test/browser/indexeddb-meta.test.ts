/**
 * Event metadata (`_meta`) on the IndexedDB storage, in real headless
 * Chromium: the log puts it in the record's line, so it is stored and read
 * back with the event; a version 1 database's events have none
 * (indexeddb-migration.test.ts).
 */
import { expect, it } from 'vitest'
import { useBrowser } from './harness.js'

const { openHarness } = useBrowser()

it('delivers _meta (at, causedBy, correlationId) as appended, and after a reload', async () => {
  const name = `meta-${process.pid}`
  const page = await openHarness()
  const appended = await page.evaluate(async (filename) => {
    const log = await window.tinyEventSourcing.initLog<{ type: string }>({ filename })
    const cause = await log.append({ type: 'request' }, { correlationId: 'c-1' })
    const effect = await log.append({ type: 'response' }, { causedBy: cause })
    const delivered: unknown[] = []
    for await (const event of log.events()) {
      delivered.push(event)
      if (event.index === 1) break
    }
    await log.close()
    return { events: [cause, effect], delivered }
  }, name)
  const [cause, effect] = appended.events as { _meta: { at: string; causedBy?: number; correlationId?: string } }[]
  expect(cause!._meta.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  expect(Date.now() - Date.parse(cause!._meta.at)).toBeLessThan(10 * 60_000)
  expect(effect!._meta).toMatchObject({ causedBy: 0, correlationId: 'c-1' })
  expect(effect!._meta.at >= cause!._meta.at).toBe(true)
  expect(appended.delivered).toEqual(appended.events)

  await page.reload()
  await page.waitForFunction(() => window.harnessReady === true)
  const replayed = await page.evaluate(async (filename) => {
    const log = await window.tinyEventSourcing.initLog<{ type: string }>({ filename })
    const delivered: unknown[] = []
    for await (const event of log.events()) {
      delivered.push(event)
      if (event.index === log.length - 1) break
    }
    await log.close()
    return delivered
  }, name)
  expect(replayed).toEqual(appended.events)
  await page.close()
})
