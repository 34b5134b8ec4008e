import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { catchupSubscribe, fileStorage, type Indexed, type InitLogOptions, initLog, memoryStorage } from '../../src/index.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { recordingStorage } from '../helpers/recording-storage.js'

afterAll(removeTempDirs)

type Bookmark = { type: 'bookmark'; url: string }
type Info = { type: 'info'; url: string; title: string }
type Noted = { type: 'noted'; url: string }
type Event = Bookmark | Info | Noted

const places: [string, () => Promise<InitLogOptions>][] = [
  ['a file', async () => ({ filename: join(await tempDir('handler'), 'log.ndjson') })],
  ['memory', async () => ({ storage: memoryStorage() })],
]

describe.each(places)('a catchupSubscribe handler on %s', (_name, makeOptions) => {
  it("appends caused by the event it handles with context.append, inheriting the event's correlationId", async () => {
    const options = await makeOptions()
    const log = await initLog<Event>(options)
    await log.append({ type: 'bookmark', url: 'https://a.example' }, { correlationId: 'user-1' })
    await log.append({ type: 'bookmark', url: 'https://b.example' })
    const done = new AbortController()
    const appended: Indexed<Event>[] = []
    const running = catchupSubscribe(
      log.events({ signal: done.signal }),
      async (event, { append }) => {
        if (event.type === 'bookmark') appended.push(await append({ type: 'info', url: event.url, title: 'T' }))
        if (event.index === 3) done.abort()
      },
      { signal: done.signal },
    )
    await running
    expect(appended.map((event) => [event.index, event._meta?.causedBy, event._meta?.correlationId])).toEqual([
      [2, 0, 'user-1'],
      [3, 1, undefined],
    ])
    await log.close()
  })

  it('with appends, does not handle again an event whose appends reached the log before a crash, and handles every other', async () => {
    const options = await makeOptions()
    const log = await initLog<Event>(options)
    // What a fetcher killed between its append and saving its version leaves behind:
    // its version says 0, but bookmark 2 already has its info, caused by it.
    await log.append({ type: 'bookmark', url: 'https://a.example' }) // 0, handled and saved
    await log.append({ type: 'info', url: 'https://a.example', title: 'A' }, { causedBy: 0 }) // 1
    await log.append({ type: 'bookmark', url: 'https://b.example' }) // 2, handled, not saved
    await log.append({ type: 'bookmark', url: 'https://c.example' }) // 3, not handled
    await log.append({ type: 'info', url: 'https://b.example', title: 'B' }, { causedBy: 2 }) // 4
    // Another handler's reaction to bookmark 3 does not count as this one's.
    await log.append({ type: 'noted', url: 'https://c.example' }, { causedBy: 3 }) // 5
    await log.close()

    const storage = recordingStorage(options.storage ?? fileStorage(options.filename!))
    const reopened = await initLog<Event>({ storage })
    storage.reads.length = 0
    const handled: number[] = []
    const done = new AbortController()
    await catchupSubscribe(
      reopened.events({ after: 1, signal: done.signal }),
      async (event, { append }) => {
        handled.push(event.index)
        if (event.type === 'bookmark') await append({ type: 'info', url: event.url, title: 'again' })
        if (event.index === 6) done.abort()
      },
      { signal: done.signal, appends: { types: ['info'] } },
    )
    expect(handled).toEqual([3, 4, 5, 6])
    // The scan for earlier appends started where the subscription starts, not at the start of the log.
    expect(Math.min(...storage.reads)).toBe(2)
    const infos: Indexed<Event>[] = []
    for await (const event of reopened.events()) {
      if (event.type === 'info') infos.push(event)
      if (event.index === reopened.length - 1) break
    }
    expect(infos.map((event) => [event.url, event._meta?.causedBy])).toEqual([
      ['https://a.example', 0],
      ['https://b.example', 2],
      ['https://c.example', 3],
    ])
    await reopened.close()
  })
})

describe('catchupSubscribe usage', () => {
  it('rejects context.append over events not from log.events(), and appends over them', async () => {
    const seen: unknown[] = []
    await catchupSubscribe([{ index: 0 }], async (_event, { append }) => {
      seen.push(await append({}).catch((error: Error) => error.message))
    })
    expect(seen).toEqual([expect.stringMatching(/context\.append\(\) needs catchupSubscribe\(\) to iterate log\.events\(\)/)])
    await expect(catchupSubscribe([{ index: 0 }], () => {}, { appends: { types: ['info'] } })).rejects.toThrow(
      /\{ appends \}\) needs events from log\.events\(\)/,
    )
    const log = await initLog({ storage: memoryStorage() })
    await expect(catchupSubscribe(log.events(), () => {}, { appends: { types: [] } })).rejects.toThrow(/types takes a non-empty list/)
    await log.close()
  })
})
