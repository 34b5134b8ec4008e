/**
 * Opening a database the previous layout made (version 1: each event's line
 * alone as the record), in real headless Chromium: its records are migrated
 * in place, and its logs and snapshots read as they were.
 */
import { expect, it } from 'vitest'
import { useBrowser } from './harness.js'

const { openHarness } = useBrowser()

const name = `migrated-${process.pid}`
// Lines as version 1 stored them: 0.2.x's format, no _meta.
const oldLines = [
  '{"type":"bookmark","url":"https://a.example","index":0}',
  '{"type":"info","url":"https://a.example","title":"A","index":1}',
  '{"n":5,"index":2}',
  '{"type":"bookmark","url":"https://b.example","index":3}',
]

it('migrates a version 1 database in place: old events replay as they were and take appends with _meta; the type index holds them; snapshots and other logs are kept', async () => {
  const page = await openHarness()
  const made = await page.evaluate(
    ([name, oldLines]) =>
      new Promise<string>((resolve) => {
        // Exactly what the previous code created: two stores, out-of-line keys, the line as the value.
        const request = indexedDB.open('tiny-event-sourcing', 1)
        request.onupgradeneeded = () => {
          const db = request.result
          const events = db.createObjectStore('events')
          const snapshots = db.createObjectStore('snapshots')
          oldLines.forEach((line, index) => events.put(line, [name, index]))
          events.put('{"type":"bookmark","index":0}', [`${name}-other`, 0])
          snapshots.put('{"_version":3,"state":{"bookmarks":2}}', `${name}.json`)
        }
        request.onsuccess = () => {
          request.result.close()
          resolve('made')
        }
        request.onerror = () => resolve(`failed: ${request.error?.name}`)
      }),
    [name, oldLines] as const,
  )
  expect(made).toBe('made')

  const opened = await page.evaluate(async (name) => {
    const { initLog, fsStoreBackend } = window.tinyEventSourcing
    const log = await initLog<Record<string, unknown>>({ filename: name })
    const length = log.length
    const replayed: unknown[] = []
    for await (const event of log.events()) {
      replayed.push(event)
      if (event.index === length - 1) break
    }
    const appended = await log.append({ type: 'bookmark', url: 'https://c.example' })
    await log.close()
    const other = await initLog({ filename: `${name}-other` })
    const otherLength = other.length
    await other.close()
    return { length, replayed, appended, otherLength, snapshot: await fsStoreBackend(`${name}.json`).read() }
  }, name)
  expect(opened.length).toBe(4)
  expect(opened.replayed).toEqual(oldLines.map((line) => JSON.parse(line)))
  expect(opened.appended).toMatchObject({ type: 'bookmark', url: 'https://c.example', index: 4 })
  expect((opened.appended as { _meta: { at: string } })._meta.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  expect(opened.otherLength).toBe(1)
  expect(opened.snapshot).toEqual({ _version: 3, state: { bookmarks: 2 } })

  // What the database holds now, read with IndexedDB itself.
  const stored = await page.evaluate(async (name) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('tiny-event-sourcing')
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    const read = <T>(request: IDBRequest<T>) =>
      new Promise<T>((resolve, reject) => {
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
    const events = db.transaction('events').objectStore('events')
    const typeIndex = events.index('type')
    const stored = {
      version: db.version,
      records: await read(events.getAll(IDBKeyRange.bound([name, 0], [name, Number.POSITIVE_INFINITY]))),
      indexKeyPath: typeIndex.keyPath,
      bookmarks: (await read(typeIndex.getAll(IDBKeyRange.bound([name, 'bookmark', 0], [name, 'bookmark', Number.POSITIVE_INFINITY])))).map(
        (record: { index: number }) => record.index,
      ),
    }
    db.close()
    return stored
  }, name)
  expect(stored.version).toBe(2)
  expect(stored.indexKeyPath).toEqual(['log', 'type', 'index'])
  expect(stored.bookmarks).toEqual([0, 3, 4])
  expect(stored.records.slice(0, 4)).toEqual([
    { log: name, index: 0, type: 'bookmark', line: oldLines[0] },
    { log: name, index: 1, type: 'info', line: oldLines[1] },
    { log: name, index: 2, line: oldLines[2] },
    { log: name, index: 3, type: 'bookmark', line: oldLines[3] },
  ])

  // After a reload the old events still have no _meta, and the new one keeps its own.
  await page.reload()
  await page.waitForFunction(() => window.harnessReady === true)
  const reloaded = await page.evaluate(async (name) => {
    const log = await window.tinyEventSourcing.initLog<Record<string, unknown>>({ filename: name })
    const replayed: unknown[] = []
    for await (const event of log.events()) {
      replayed.push(event)
      if (event.index === log.length - 1) break
    }
    await log.close()
    return replayed
  }, name)
  expect(reloaded).toEqual([...oldLines.map((line) => JSON.parse(line)), opened.appended])
  await page.close()
})
