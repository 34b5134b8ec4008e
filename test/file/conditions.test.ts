/**
 * Conditional appends in the file storage: refused with AppendConflictError
 * when an event after `condition.after` matches, checked with the write, so
 * two appends racing on the same entity cannot both land.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { AppendConflictError, fileStorage } from '../../src/index.js'
import type { LogStorage } from '../../src/core/log-storage.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterAll(removeTempDirs)

const bookmark = (url: string) => JSON.stringify({ type: 'bookmark', url })
const info = (url: string) => JSON.stringify({ type: 'info', url })

async function openedLog(options: { fsync?: boolean } = {}): Promise<{ storage: LogStorage; filename: string }> {
  const filename = join(await tempDir('condition'), 'log.ndjson')
  const storage = fileStorage(filename, options)
  await storage.open()
  // 0: bookmark a, 1: info a, 2: bookmark b, then 200 infos about others (so the check reads more than one line)
  await storage.append([bookmark('a'), info('a'), bookmark('b')])
  await storage.append(Array.from({ length: 200 }, (_, n) => info(`other-${n}`)))
  return { storage, filename }
}

describe('an append with a condition', () => {
  it('is refused when an event after `after` matches its types and fields, naming that event; nothing is written', async () => {
    const { storage, filename } = await openedLog()
    const before = await readFile(filename, 'utf8')
    const condition = { types: ['bookmark'], where: { url: 'b' }, after: 1 }
    const error = await storage.append([bookmark('b')], { condition }).catch((error: unknown) => error)
    expect(error).toBeInstanceOf(AppendConflictError)
    expect(error).toMatchObject({ code: 'APPEND_CONFLICT', condition, conflictingEvent: { type: 'bookmark', url: 'b', index: 2 }, actualLastIndex: 202 })
    expect((error as Error).message).toContain('event 2 ("bookmark") matches its condition')
    const refusedBatch = storage.append([bookmark('b'), info('b')], { condition: { where: { url: 'a' }, after: -1 }, atomic: true })
    await expect(refusedBatch).rejects.toMatchObject({ conflictingEvent: { index: 0 } })
    expect(await readFile(filename, 'utf8')).toBe(before)
    await storage.close()
  })

  it('lands when the matching events are at or before `after`, or none matches', async () => {
    const { storage } = await openedLog()
    expect(await storage.append([bookmark('b')], { condition: { types: ['bookmark'], where: { url: 'b' }, after: 2 } })).toBe(203)
    expect(await storage.append([bookmark('c')], { condition: { types: ['bookmark'], where: { url: 'c' }, after: -1 } })).toBe(204)
    expect(await storage.append([info('a')], { condition: { types: ['info'], where: { url: 'a' }, after: 1 } })).toBe(205)
    // The batch's own events do not count.
    expect(await storage.append([bookmark('d'), bookmark('d')], { condition: { where: { url: 'd' }, after: 205 }, atomic: true })).toBe(206)
    await storage.close()
  })

  it('decides about the same entity once when appends race: the first lands, the second is refused', async () => {
    const { storage } = await openedLog({ fsync: true })
    const condition = { types: ['bookmark'], where: { url: 'x' }, after: 202 }
    // Not awaited one by one: the second is checked after the first was written.
    const results = await Promise.allSettled([
      storage.append([bookmark('x')], { condition }),
      storage.append([bookmark('x')], { condition }),
      storage.append([bookmark('y')], { condition: { ...condition, where: { url: 'y' } } }),
    ])
    expect(results[0]).toEqual({ status: 'fulfilled', value: 203 })
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: 'APPEND_CONFLICT', conflictingEvent: { index: 203 } } })
    expect(results[2]).toEqual({ status: 'fulfilled', value: 204 })
    await storage.close()
  })
})

describe('appends made without waiting for the previous one', () => {
  it('land one after the other in call order, also while the previous one waits for its flush', async () => {
    const { storage, filename } = await openedLog({ fsync: true })
    const firsts = await Promise.all([storage.append([info('p')]), storage.append([info('q'), info('r')]), storage.append([info('s')])])
    expect(firsts).toEqual([203, 204, 206])
    const lines = (await readFile(filename, 'utf8')).trimEnd().split('\n').slice(-4)
    expect(lines.map((line) => JSON.parse(line).url)).toEqual(['p', 'q', 'r', 's'])
    await storage.close()
  })
})
