import { describe, expect, it } from 'vitest'
import { AppendConflictError, initLog, type Log, memoryStorage } from '../../src/index.js'
import { recordingStorage } from '../helpers/recording-storage.js'

type Event = { type: string; url: string; n?: number }

async function stored(log: Log<Event>): Promise<Event[]> {
  const events: Event[] = []
  if (log.length === 0) return events
  for await (const event of log.events()) {
    events.push(event)
    if (event.index === log.length - 1) break
  }
  return events
}

const bookmark = (url: string) => ({ types: ['bookmark'], where: { url } })

describe('append(event, { condition })', () => {
  it('appends when no matching event came after the index, and refuses when one did, naming it', async () => {
    const log = await initLog<Event>({ storage: memoryStorage() })
    await log.append({ type: 'bookmark', url: 'https://a.example/' })
    await log.append({ type: 'info', url: 'https://b.example/' })
    // Other types, other URLs: no conflict.
    const landed = await log.append({ type: 'bookmark', url: 'https://b.example/' }, { condition: { ...bookmark('https://b.example/'), after: -1 } })
    expect(landed.index).toBe(2)
    // A bookmark of a.example came after -1: refused.
    const refused = log.append({ type: 'bookmark', url: 'https://a.example/' }, { condition: { ...bookmark('https://a.example/'), after: -1 } })
    await expect(refused).rejects.toBeInstanceOf(AppendConflictError)
    const error = (await refused.catch((caught: unknown) => caught)) as AppendConflictError
    expect(error.code).toBe('APPEND_CONFLICT')
    expect(error.conflictingEvent).toMatchObject({ type: 'bookmark', url: 'https://a.example/', index: 0 })
    expect(error.condition).toEqual({ types: ['bookmark'], where: { url: 'https://a.example/' }, after: -1 })
    expect(error.expectedLastIndex).toBe(-1)
    expect(error.actualLastIndex).toBe(2)
    expect(error.message).toMatch(
      /append to memory is refused: event 0 \("bookmark"\) matches its condition \{ types: \["bookmark"\], where: \{"url":"https:\/\/a.example\/"\}, after: -1 \}; read the events after -1 and decide again/,
    )
    // After the matching event, it holds.
    expect((await log.append({ type: 'bookmark', url: 'https://a.example/' }, { condition: { ...bookmark('https://a.example/'), after: 0 } })).index).toBe(3)
    expect((await stored(log)).map((event) => event.url)).toEqual(['https://a.example/', 'https://b.example/', 'https://b.example/', 'https://a.example/'])
    await log.close()
  })

  it('applies to appendAll as a whole: a conflict writes none of the batch', async () => {
    const log = await initLog<Event>({ storage: memoryStorage() })
    await log.append({ type: 'bookmark', url: 'https://a.example/' })
    const condition = { types: ['bookmark'], after: -1 }
    await expect(
      log.appendAll(
        [
          { type: 'bookmark', url: 'https://b.example/' },
          { type: 'bookmark', url: 'https://c.example/' },
        ],
        { condition },
      ),
    ).rejects.toMatchObject({ code: 'APPEND_CONFLICT', conflictingEvent: { index: 0 } })
    expect(log.length).toBe(1)
    const batch = await log.appendAll(
      [
        { type: 'bookmark', url: 'https://b.example/' },
        { type: 'bookmark', url: 'https://c.example/' },
      ],
      { condition: { ...condition, after: 0 } },
    )
    expect(batch.map((event) => event.index)).toEqual([1, 2])
    await log.close()
  })

  it('of many handlers racing about the same URLs, exactly one per URL wins; handlers about other URLs never conflict', async () => {
    const log = await initLog<Event>({ storage: memoryStorage() })
    const urls = Array.from({ length: 20 }, (_, i) => `https://site-${i}.example/`)
    await log.append({ type: 'started', url: '' })
    // Every handler decided from the same read: nothing bookmarked up to index 0.
    const handlers = Array.from({ length: 400 }, (_, i) => {
      const url = urls[i % urls.length]!
      return log.append({ type: 'bookmark', url, n: i }, { condition: { ...bookmark(url), after: 0 } }).then(
        () => ({ url, won: true }),
        (error: unknown) => {
          expect(error).toBeInstanceOf(AppendConflictError)
          expect((error as AppendConflictError).conflictingEvent?.url).toBe(url)
          return { url, won: false }
        },
      )
    })
    const outcomes = await Promise.all(handlers)
    for (const url of urls) expect(outcomes.filter((outcome) => outcome.url === url && outcome.won)).toHaveLength(1)
    const bookmarks = (await stored(log)).filter((event) => event.type === 'bookmark')
    expect(bookmarks.map((event) => event.url).sort()).toEqual([...urls].sort())
    // The first handler of each URL wins: appends keep call order.
    expect(bookmarks.map((event) => event.n)).toEqual(urls.map((_, i) => i))

    // Handlers deciding about distinct URLs, interleaved with unconditional appends: none conflicts.
    const after = log.length - 1
    const distinct = await Promise.allSettled(
      Array.from({ length: 300 }, (_, i) =>
        i % 3 === 0
          ? log.append({ type: 'info', url: `https://site-${i % 20}.example/` })
          : log.append({ type: 'bookmark', url: `https://other-${i}.example/` }, { condition: { ...bookmark(`https://other-${i}.example/`), after } }),
      ),
    )
    expect(distinct.filter((outcome) => outcome.status === 'rejected')).toEqual([])
    await log.close()
  })

  it('of handlers that re-read and decide again on a conflict, the URL is still bookmarked once', async () => {
    const log = await initLog<Event>({ storage: memoryStorage() })
    const url = 'https://busy.example/'
    /** A handler as a server would write it: read what is known, decide, append under a condition; on conflict, start over. */
    async function bookmarkOnce(n: number): Promise<'added' | 'already there'> {
      for (;;) {
        const seenUpTo = log.length - 1
        const known = (await stored(log)).some((event) => event.type === 'bookmark' && event.url === url)
        if (known) return 'already there'
        try {
          await log.append({ type: 'bookmark', url, n }, { condition: { ...bookmark(url), after: seenUpTo } })
          return 'added'
        } catch (error) {
          if (!(error instanceof AppendConflictError)) throw error
        }
      }
    }
    const results = await Promise.all(Array.from({ length: 50 }, (_, n) => bookmarkOnce(n)))
    expect(results.filter((result) => result === 'added')).toHaveLength(1)
    expect((await stored(log)).filter((event) => event.type === 'bookmark')).toHaveLength(1)
    await log.close()
  })

  it('travels alone through group commit, so a conflict fails only itself', async () => {
    const storage = recordingStorage(memoryStorage())
    const log = await initLog<Event>({ storage })
    await log.append({ type: 'bookmark', url: 'https://a.example/' })
    storage.batches.length = 0
    const settled = await Promise.allSettled([
      log.append({ type: 'info', url: 'https://a.example/' }),
      log.append({ type: 'info', url: 'https://b.example/' }),
      log.append({ type: 'bookmark', url: 'https://a.example/' }, { condition: { ...bookmark('https://a.example/'), after: -1 } }),
      log.append({ type: 'info', url: 'https://c.example/' }),
    ])
    expect(settled.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
    expect(storage.batches).toEqual([2, 1, 1])
    expect(log.length).toBe(4)
    await log.close()
  })

  it('refuses a condition that is not one, naming the value; nothing is written', async () => {
    const log = await initLog<Event>({ storage: memoryStorage() })
    const event = { type: 'bookmark', url: 'https://a.example/' }
    await expect(log.append(event, { condition: { types: [], after: -1 } })).rejects.toThrow(
      /append\(event, \{ condition \}\): types takes a non-empty list.*got \[\]/,
    )
    await expect(log.append(event, { condition: { where: { url: undefined }, after: -1 } })).rejects.toThrow(/where\.url is undefined/)
    await expect(log.append(event, { condition: { types: ['bookmark'] } as never })).rejects.toThrow(
      /condition \}\): after takes the last index the decision was based on \(-1 or more\), got undefined/,
    )
    await expect(log.append(event, { condition: { types: ['bookmark'], after: 1.5 } })).rejects.toThrow(/got 1.5/)
    await expect(log.appendAll([event], { condition: 'bookmark' as never })).rejects.toThrow(
      /appendAll\(events, \{ condition \}\) takes \{ types\?, where\?, after \}/,
    )
    await expect(log.append(event, { expectedLastIndex: -2 })).rejects.toThrow(/append\(event, \{ expectedLastIndex \}\) takes an index of -1 or more, got -2/)
    expect(log.length).toBe(0)
    await log.close()
  })

  it('checks the condition as it was when append was called', async () => {
    const log = await initLog<Event>({ storage: memoryStorage() })
    await log.append({ type: 'bookmark', url: 'https://a.example/' })
    const condition = { types: ['bookmark'], where: { url: 'https://b.example/' }, after: -1 }
    const appending = log.append({ type: 'bookmark', url: 'https://b.example/' }, { condition })
    condition.where = { url: 'https://a.example/' }
    expect((await appending).index).toBe(1)
    await log.close()
  })
})
