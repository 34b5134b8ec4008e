/**
 * What keeps a process following a PostgreSQL log alive: an iterator waiting
 * for events, and nothing else (not the listening connection, not the safety
 * poll). Real child processes that never call close().
 */
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { initLog } from '../../src/index.js'
import { postgresStorage } from '../../src/postgres/index.js'
import { killChildren, startChild, type Child } from '../helpers/child.js'
import { usePostgres } from './server.js'

const server = usePostgres()
afterEach(killChildren)

async function follower(log: string, mode: 'wait' | 'no-iterator'): Promise<Child> {
  const child = await startChild(await readFile(new URL('fixtures/keep-alive.mjs', import.meta.url), 'utf8'), [server.url, log, mode])
  await child.lineWhere((line) => line === 'ready')
  return child
}

const running = (child: Child) => child.process.exitCode === null && child.process.signalCode === null

describe('keeping a PostgreSQL follower process alive', () => {
  it('lets a process with the log open and no iterator exit by itself', async () => {
    const child = await follower('keep-alive-idle', 'no-iterator')
    expect(await child.nextLine()).toBe('done')
    // Listening for notifications and the safety poll must not hold it; no close() is ever called.
    expect(await child.exited).toEqual({ code: 0, signal: null })
  }, 60_000)

  it('keeps a process alive while an iterator waits, and lets it exit once the iterator is done', async () => {
    const name = 'keep-alive-waiting'
    const child = await follower(name, 'wait')
    // Several safety polls later, still waiting.
    await sleep(3000)
    expect(running(child)).toBe(true)
    const writer = await initLog({ storage: postgresStorage({ pool: server.pool(), log: name }) })
    await writer.append({ type: 'wake up' })
    await writer.close()
    expect(JSON.parse(await child.nextLine())).toMatchObject({ type: 'wake up', index: 0 })
    expect(await child.nextLine()).toBe('done')
    expect(await child.exited).toEqual({ code: 0, signal: null })
  }, 60_000)
})
