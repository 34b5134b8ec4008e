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
import { exitWithin, expectUpWhileIterating, followerScript, generously } from '../helpers/keep-alive.js'
import { usePostgres } from './server.js'

const server = usePostgres()
afterEach(killChildren)

const imports = `import { initLog } from 'tiny-event-sourcing'
import { postgresStorage } from 'tiny-event-sourcing/postgres'`
/** A log of its own pool, as another process has: not read-only, others append to it all the same. */
const openFollower = 'initLog({ storage: postgresStorage({ connectionString: argv[0], log: argv[1] }) })'

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
    await expectUpWhileIterating(child, writer)
    await writer.close()
  }, 60_000)
})
