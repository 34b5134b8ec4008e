/**
 * The keep-alive rule for a file follower, with real processes: a follower's
 * process is kept alive only while an iterator waits for events; the
 * storage's own timers (its safety poll) never keep it up.
 */
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { initLog } from '../../src/index.js'
import { cleanUpChildren, killChildren, startChild } from '../helpers/child.js'
import { exitWithin, expectUpWhileIterating, followerScript, generously, longerThanAPoll } from '../helpers/keep-alive.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterAll(async () => {
  await cleanUpChildren()
  await removeTempDirs()
})
afterEach(killChildren)

const imports = `import { initLog } from 'tiny-event-sourcing'`
const openFollower = 'initLog({ filename: argv[0], readOnly: true })'

async function writtenLog(): Promise<{ filename: string; writer: Awaited<ReturnType<typeof initLog<{ type: string }>>> }> {
  const filename = join(await tempDir('keep-alive'), 'log.ndjson')
  const writer = await initLog<{ type: string }>({ filename })
  await writer.append({ type: 'first' })
  return { filename, writer }
}

describe('a file follower’s process', () => {
  it('ends by itself when no iterator waits, without close(), while the writer goes on', async () => {
    const { filename, writer } = await writtenLog()
    const child = await startChild(followerScript({ imports, openLog: openFollower, iterate: false }), [filename])
    expect(await child.nextLine()).toBe('opened')
    await writer.append({ type: 'second' }) // a change the follower notices, and no reason to stay
    expect(await exitWithin(child, generously)).toEqual({ code: 0, signal: null })
    await writer.close()
  })

  it('stays up while an iterator waits, through appends, and ends by itself once the iterator ends', async () => {
    const { filename, writer } = await writtenLog()
    const child = await startChild(followerScript({ imports, openLog: openFollower, iterate: true }), [filename])
    await expectUpWhileIterating(child, writer)
    await writer.close()
  })

  it('stays up while an iterator waits on a log whose writer has closed, until it is killed', async () => {
    const { filename, writer } = await writtenLog()
    await writer.close()
    const child = await startChild(followerScript({ imports, openLog: openFollower, iterate: true }), [filename])
    await child.lineWhere((line) => line === 'seen 0')
    expect(await exitWithin(child, longerThanAPoll)).toBe('running')
    await child.kill()
    expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' })
  })
})
