/**
 * The keep-alive rule for a PostgreSQL follower, with real processes that
 * never call close(): a follower's process is kept alive only while an
 * iterator waits for events; the storage's listening connection and safety
 * poll never keep it up.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { initLog } from '../../src/index.js'
import { postgresStorage } from '../../src/postgres/index.js'
import { killChildren, startChild } from '../helpers/child.js'
import { exitWithin, followerScript } from '../helpers/keep-alive.js'
import { usePostgres } from './server.js'

const server = usePostgres()
afterEach(killChildren)

const imports = `import { initLog } from 'tiny-event-sourcing'
import { postgresStorage } from 'tiny-event-sourcing/postgres'`
/** A log of its own pool, as another process has: not read-only, others append to it all the same. */
const openFollower = 'initLog({ storage: postgresStorage({ connectionString: argv[0], log: argv[1] }) })'
/** Well past the storage's 1 s safety poll, so a poll that kept the process up would show. */
const longerThanAPoll = 3000
const generously = 30_000

async function writtenLog(log: string) {
  const writer = await initLog<{ type: string }>({ storage: postgresStorage({ pool: server.pool(), log }) })
  await writer.append({ type: 'first' })
  return writer
}

describe('a PostgreSQL follower’s process', () => {
  it('ends by itself when no iterator waits, without close(), while others append', async () => {
    const writer = await writtenLog('keep-alive-idle')
    const child = await startChild(followerScript({ imports, openLog: openFollower, iterate: false }), [server.url, 'keep-alive-idle'])
    expect(await child.nextLine()).toBe('opened')
    await writer.append({ type: 'second' }) // a notification the follower hears, and no reason to stay
    expect(await exitWithin(child, generously)).toEqual({ code: 0, signal: null })
    await writer.close()
  }, 60_000)

  it('stays up while an iterator waits, through appends, and ends by itself once the iterator ends', async () => {
    const writer = await writtenLog('keep-alive-waiting')
    const child = await startChild(followerScript({ imports, openLog: openFollower, iterate: true }), [server.url, 'keep-alive-waiting'])
    expect(await child.nextLine()).toBe('opened')
    expect(await child.nextLine()).toBe('iterating')
    expect(await child.nextLine()).toBe('seen 0')
    expect(await exitWithin(child, longerThanAPoll)).toBe('running')
    await writer.append({ type: 'second' })
    expect(await child.nextLine()).toBe('seen 1')
    expect(await exitWithin(child, longerThanAPoll)).toBe('running')
    await writer.append({ type: 'stop' })
    expect(await child.nextLine()).toBe('seen 2')
    expect(await child.nextLine()).toBe('stopped')
    expect(await exitWithin(child, generously)).toEqual({ code: 0, signal: null })
    await writer.close()
  }, 60_000)
})
