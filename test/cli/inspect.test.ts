/**
 * `inspect` in real headless Chromium: the page renders the timeline, the
 * field catalogue, the event browser and the read models of a generated log;
 * an append shows up live; the token is enforced; and nothing is written.
 * Screenshots go to a temporary folder (its path is printed) to look at.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { initLog } from '../../src/index.js'
import { type Chromium, launchChromium } from '../browser/harness.js'
import { removeTempDirs, start, stdoutLines, stopStarted, tempDir, writeLog } from './run.js'

const events = 3000
/** The first events were written before times were recorded (as by 0.2.x). */
const untimed = 20
const startMs = Date.parse('2026-11-28T00:00:00.000Z')

/** A bookmark service's data folder: a log of `events` events over three days, with causes, and two read models. */
async function dataFolder(): Promise<string> {
  const dir = await tempDir()
  const list: object[] = []
  for (let i = 0; i < events; i++) {
    const at = new Date(startMs + i * 90_000 + (i % 7) * 1000).toISOString()
    const meta = i < untimed ? undefined : { at, ...(i % 3 === 1 ? { causedBy: i - 1, correlationId: `c-${i - 1}` } : {}) }
    const url = `https://site${i % 40}.example/`
    const event =
      i % 3 === 0
        ? { type: 'bookmark', url, ...(i > 2000 ? { tags: ['new'] } : {}) }
        : i % 3 === 1
          ? { type: 'info', url, title: `Site ${i % 40}` }
          : { type: 'visit', url, n: i }
    list.push(meta === undefined ? event : { ...event, _meta: meta })
  }
  await writeLog(join(dir, 'log.ndjson'), list)
  const byUrl = Object.fromEntries(Array.from({ length: 40 }, (_, n) => [`https://site${n}.example/`, { title: `Site ${n}`, visits: n }]))
  await writeFile(join(dir, 'read-model.json'), JSON.stringify({ _version: 2500, state: { byUrl } }))
  await writeFile(join(dir, 'counts.json'), JSON.stringify({ _version: events - 1, _projection: 2, state: { bookmarks: 1000, visits: 1000 } }))
  return dir
}

/** Every file of `dir` by name, with a hash of its bytes. */
async function filesOf(dir: string): Promise<Record<string, string>> {
  const names = (await readdir(dir)).sort()
  return Object.fromEntries(
    await Promise.all(
      names.map(async (name) => [
        name,
        createHash('sha256')
          .update(await readFile(join(dir, name)))
          .digest('hex'),
      ]),
    ),
  )
}

/** Starts `inspect` on `args` and resolves with the URL it prints. */
async function inspect(args: string[]) {
  const child = start(['inspect', ...args])
  const lines = stdoutLines(child)
  const printed = await lines.until(2)
  const url = /^Open (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/.exec(printed[1]!)?.[1]
  if (url === undefined) throw new Error(`no URL in:\n${printed.join('\n')}`)
  return { child, url, printed }
}

let chromium: Chromium
let shots: string

beforeAll(async () => {
  chromium = await launchChromium()
  shots = await mkdtemp(join(tmpdir(), 'tes-inspect-shots-'))
  console.log(`inspect screenshots: ${shots}`)
}, 120_000)
afterAll(async () => {
  await chromium?.dispose()
  await removeTempDirs()
})

async function openPage(url: string): Promise<{ page: Page; requests: string[] }> {
  const page = await chromium.context.newPage()
  await page.setViewportSize({ width: 1280, height: 900 })
  const requests: string[] = []
  page.on('request', (request) => requests.push(request.url()))
  await page.goto(url)
  await page.waitForSelector('body[data-ready]')
  return { page, requests }
}

describe('tiny-event-sourcing inspect', () => {
  afterEach(stopStarted)

  it('serves the timeline, catalogue, events and read models of a log, follows appends live, enforces its token and writes nothing', async () => {
    const dir = await dataFolder()
    const before = await filesOf(dir)
    const { child, url, printed } = await inspect([dir])
    expect(printed[0]).toBe(`Inspecting ${join(dir, 'log.ndjson')} (3,000 events) and 2 read models, read-only.`)

    // The token: without it, or with another, every request gets 403.
    const origin = new URL(url).origin
    const token = new URL(url).searchParams.get('token')!
    expect(token.length).toBeGreaterThanOrEqual(20)
    for (const path of ['/', '/api/summary', '/api/events', '/api/live', `/api/summary?token=${token.slice(1)}x`]) {
      const response = await fetch(origin + path)
      expect({ path, status: response.status }).toEqual({ path, status: 403 })
    }
    const summary = await (await fetch(`${origin}/api/summary?token=${token}`)).json()
    expect(summary).toMatchObject({ length: events, untimed })

    const { page, requests } = await openPage(url)
    // Header and timeline: uPlot's canvas, one legend chip per type, the unit.
    await expect.poll(() => page.textContent('header.top')).toContain('3,000 events · 3 types')
    expect(await page.locator('#timeline canvas').count()).toBeGreaterThan(0)
    // Counts of the events on the time axis: the 20 untimed ones are not.
    expect(await page.locator('#timeline .chip').allTextContents()).toEqual(['bookmark 993', 'info 993', 'visit 994'])
    expect(await page.textContent('#timeline h2')).toMatch(/^Timeline events per (\d+ )?(minutes?|hours?) \(UTC\)$/)
    expect(await page.textContent('#timeline .note')).toContain('20 events have no time (written by 0.2.x or with metadata: false)')
    // Catalogue: each field with its count and when it was first and last seen.
    await page.waitForFunction(() => !document.querySelector('#catalogue .reading')?.textContent)
    const tagsRow = page.locator('#catalogue tr', { hasText: 'tags' })
    const seen = (i: number) => new Date(startMs + i * 90_000 + (i % 7) * 1000).toISOString().slice(0, 19).replace('T', ' ')
    expect(await tagsRow.locator('td').allTextContents()).toEqual(['tags', '333', '33%', 'array', seen(2001), seen(2997), '["new"]'])
    expect(await page.locator('#catalogue tr', { hasText: 'title' }).locator('td').nth(4).textContent()).toBe('#1')
    // Events: the newest 50, each with its causation links.
    expect(await page.locator('#events .event').count()).toBe(50)
    expect(await page.locator('#events .event').last().getAttribute('data-index')).toBe(String(events - 1))
    expect(await page.textContent('#events .status')).toContain('#2,950–#2,999 of 3,000')
    // Read models: version, lag, size, and the state as a tree fetched as it is opened.
    const model = page.locator('.model', { hasText: 'read-model.json' })
    expect(await model.textContent()).toContain('499 events behind')
    expect(await page.locator('.model', { hasText: 'counts.json' }).textContent()).toMatch(/up to date.*projectionversion 2/)
    await model.locator('details.state > summary').click()
    await expect.poll(() => model.locator('.j-key').first().textContent()).toBe('"byUrl"')
    await model.locator('.j-node summary', { hasText: '40 keys' }).click()
    await expect.poll(() => model.locator('.j-key').allTextContents()).toContain('"https://site7.example/"')
    await page.screenshot({ path: join(shots, 'inspect.png'), fullPage: true })

    // Causation: an info event links to the bookmark that caused it, and back.
    const info = page.locator('#events .event[data-index="2998"]')
    expect(await info.locator('.cause').first().textContent()).toBe('caused by #2,997')
    await info.locator('.cause button').first().click()
    await page.waitForSelector('#events .event.highlight[data-index="2997"]')
    expect(await page.locator('#events .event[data-index="2997"] .cause').textContent()).toBe('caused #2,998')

    // Filters: by type, by field value.
    await page.selectOption('#events select', 'visit')
    await expect.poll(() => page.locator('#events .badge').allTextContents()).toEqual(new Array(50).fill('visit'))
    await page.fill('#events input[aria-label="Field value"]', 'n=2998')
    await page.press('#events input[aria-label="Field value"]', 'Enter')
    await expect.poll(() => page.locator('#events .event').count()).toBe(0)
    await page.fill('#events input[aria-label="Field value"]', 'n=2996')
    await page.press('#events input[aria-label="Field value"]', 'Enter')
    await expect.poll(() => page.locator('#events .event').getAttribute('data-index')).toBe('2996')

    // Zoom: dragging across the chart lists the events of that range.
    await page.click('#events button:text("Clear")')
    const over = page.locator('#timeline .u-over')
    await over.scrollIntoViewIfNeeded()
    const box = (await over.boundingBox())!
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2)
    await page.mouse.down()
    await page.mouse.move(box.x + box.width * 0.45, box.y + box.height / 2, { steps: 5 })
    await page.mouse.up()
    await expect.poll(() => page.textContent('#events .status')).toMatch(/since 2026-11-2\d \d\d:\d\d:\d\d, until/)
    expect(await page.isEnabled('#timeline button:text("Reset zoom")')).toBe(true)
    await page.screenshot({ path: join(shots, 'inspect-zoomed.png'), fullPage: false })

    // The page loaded nothing but from its own server.
    expect(requests.filter((request) => !request.startsWith(`${origin}/`))).toEqual([])
    // Nothing was written: the same files, byte for byte, and no new one.
    expect(await filesOf(dir)).toEqual(before)

    // Live: the service appends, and the page shows it without reloading.
    await page.click('#timeline button:text("Reset zoom")')
    await page.click('#events button:text("Clear")')
    await expect.poll(() => page.locator('#events .event').last().getAttribute('data-index')).toBe(String(events - 1))
    const writer = await initLog({ filename: join(dir, 'log.ndjson') })
    await writer.append({ type: 'live-check', url: 'https://live.example/' })
    await writer.close()
    await page.waitForSelector(`#events .event[data-index="${events}"]`, { timeout: 30_000 })
    await expect.poll(() => page.textContent('header.top')).toContain('3,001 events · 4 types')
    // On the time axis once the log records times; counted in the legend either way.
    await expect.poll(async () => (await page.locator('#timeline .chip').allTextContents()).some((chip) => chip.startsWith('live-check'))).toBe(true)
    await expect.poll(() => page.locator('.model', { hasText: 'counts.json' }).textContent()).toContain('1 event behind')
    await page.close()

    child.kill('SIGTERM')
    expect(await new Promise((resolve) => child.on('exit', (code) => resolve(code)))).toBe(0)
  }, 180_000)

  it('shows an empty log and a folder without read models as such, by index when no event has a time', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'log.ndjson'), '')
    const { url } = await inspect([join(dir, 'log.ndjson')])
    const { page } = await openPage(url)
    expect(await page.textContent('#timeline .empty')).toBe('The log is empty: events appear here as they are appended.')
    expect(await page.textContent('#catalogue .empty')).toContain('No events yet')
    expect(await page.textContent('#events .status')).toBe('The log is empty: events appear here as they are appended.')
    expect(await page.textContent('#read-models .empty')).toBe('No state file beside the log. Name one with --state FILE.')
    await page.screenshot({ path: join(shots, 'inspect-empty.png'), fullPage: true })
    // An old log, without times: the timeline runs over indices, and the page says so.
    await writeLog(
      join(dir, 'log.ndjson'),
      Array.from({ length: 30 }, (_, n) => ({ type: n % 2 ? 'a' : 'b', n })),
    )
    await page.waitForSelector('#timeline canvas', { timeout: 30_000 })
    expect(await page.textContent('#timeline .note')).toBe(
      'No event in this log has a time (written by 0.2.x or with metadata: false): the timeline runs over indices.',
    )
    expect(await page.textContent('#timeline h2')).toBe('Timeline events per event')
    await page.screenshot({ path: join(shots, 'inspect-untimed.png'), fullPage: false })
    await page.close()
  }, 120_000)

  it('with --try, shows what a changed reducer would change in each read model, writing nothing', async () => {
    const dir = await tempDir()
    await writeLog(join(dir, 'log.ndjson'), [
      { type: 'bookmark', url: 'https://a.example', _meta: { at: '2026-12-01T10:00:00.000Z' } },
      { type: 'info', url: 'https://a.example', title: 'Site A', _meta: { at: '2026-12-01T10:00:01.000Z', causedBy: 0 } },
      { type: 'bookmark', url: 'https://b.example', _meta: { at: '2026-12-01T11:00:00.000Z' } },
    ])
    await writeFile(join(dir, 'read-model.json'), JSON.stringify({ _version: 1, state: { byUrl: { 'https://a.example': { title: 'Site A' } } } }))
    const reducer = join(dir, 'changed.mjs')
    await writeFile(
      reducer,
      "export const initialState = { byUrl: {} }\nexport function reduce(state, event) {\n  if (event.type === 'bookmark') state.byUrl[event.url] = { seen: event._meta.at }\n  if (event.type === 'info') state.byUrl[event.url].title = event.title.toUpperCase()\n  return state\n}\n",
    )
    const before = await filesOf(dir)
    const { url } = await inspect([dir, '--try', reducer])
    const { page } = await openPage(url)
    await page.click('.model button:text("Try changed.mjs")')
    await page.waitForSelector('.model .diff')
    expect(await page.textContent('.model .try-result p')).toBe('Replayed 2 events up to version 1: 2 differences: 1 added, 0 removed, 1 changed.')
    expect(await page.locator('.model .diff > div').allTextContents()).toEqual([
      '~ byUrl["https://a.example"].title: "Site A" → "SITE A"',
      '+ byUrl["https://a.example"].seen: "2026-12-01T10:00:00.000Z"',
    ])
    await page.screenshot({ path: join(shots, 'inspect-try.png'), fullPage: true })
    await page.close()
    expect(await filesOf(dir)).toEqual(before)
  }, 120_000)
})
