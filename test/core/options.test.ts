/** initLog's options: what 0.2.x code passes, where readOnly and fsync go, and what upcast must return. */
import { describe, expect, expectTypeOf, it } from 'vitest'
import { initLog, type Indexed, type LogStorage, memoryStorage, type StorageOpenOptions } from '../../src/index.js'

interface BookmarkEvent {
  type: 'bookmark'
  payload: { url: string }
}

describe('initLog options', () => {
  it("refuses 0.2.x's fsImpl instead of ignoring it, naming what replaces it", async () => {
    const appendFile = async () => {}
    const options = { filename: 'log.ndjson', fsImpl: { readFile: async () => '', appendFile } }
    await expect(initLog(options)).rejects.toMatchObject({
      code: 'USAGE',
      message:
        'tiny-event-sourcing: initLog({ fsImpl }) is gone since 1.0: for a log in memory (tests) pass { storage: memoryStorage() }; ' +
        'to keep the log anywhere else, pass { storage } with a LogStorage of your own',
    })
  })

  it('refuses fsync beside a storage, which would ignore it, naming where it goes', async () => {
    await expect(initLog({ storage: memoryStorage(), fsync: true })).rejects.toMatchObject({
      code: 'USAGE',
      message: 'tiny-event-sourcing: initLog({ storage, fsync }): fsync is an option of the storage, e.g. { storage: fileStorage(filename, { fsync: true }) }',
    })
  })

  it('hands readOnly to the storage when opening it, for every storage, and refuses appends itself', async () => {
    const opened: (StorageOpenOptions | undefined)[] = []
    const spied = (storage: LogStorage): LogStorage => ({ ...storage, open: (options) => (opened.push(options), storage.open(options)) })
    const storage = memoryStorage()
    const writer = await initLog({ storage: spied(storage) })
    await writer.append({ n: 0 })
    const follower = await initLog({ storage: spied(storage), readOnly: true })
    expect(opened).toEqual([{ readOnly: false }, { readOnly: true }])
    await expect(follower.append({ n: 1 })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('readOnly: true') })
    expect(follower.length).toBe(1)
    await follower.close()
    await writer.close()
  })

  it("types upcast to return the log's event type, and lets stored be annotated with the shapes stored", async () => {
    const storage = memoryStorage()
    const old = await initLog({ storage })
    await old.append({ type: 'bookmark', url: 'https://a.example' })
    await old.close()
    type OldBookmark = { type: 'bookmark'; url: string }
    const log = await initLog<BookmarkEvent>({
      storage,
      upcast: (stored: Indexed<BookmarkEvent | OldBookmark>) => ('payload' in stored ? stored : { type: 'bookmark', payload: { url: stored.url } }),
    })
    const [first] = await (async () => {
      for await (const event of log.events()) return [event]
      return []
    })()
    expectTypeOf(first!).toEqualTypeOf<Indexed<BookmarkEvent>>()
    expect(first).toEqual({ type: 'bookmark', payload: { url: 'https://a.example' }, index: 0, _meta: { at: expect.any(String) } })
    await log.close()
    // The event type is inferred from what upcast returns, too.
    const inferred = await initLog({ storage, upcast: (): BookmarkEvent => ({ type: 'bookmark', payload: { url: '' } }) })
    expectTypeOf(inferred.append).parameter(0).toEqualTypeOf<BookmarkEvent>()
    await inferred.close()
    // @ts-expect-error an upcast returning another shape than the log's events
    await initLog<BookmarkEvent>({ storage, upcast: (stored) => ({ type: 'info', payload: stored }) }).then((refused) => refused.close())
  })
})
