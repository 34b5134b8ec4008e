import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { distEntry } from '../helpers/dist.js'
import { killChildren, startChild } from '../helpers/child.js'
import { usePostgres } from './server.js'

const server = usePostgres()
afterEach(killChildren)

// Prints, after each step, whether the `pg` package has been loaded.
const script = `
import { createRequire } from 'node:module'
const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes('/node_modules/pg/'))
const { initLog, memoryStorage } = await import('tiny-event-sourcing')
const log = await initLog({ storage: memoryStorage() })
await log.append({ type: 'x' })
await log.close()
console.log('main entry used: pg loaded ' + loaded())
const { postgresStorage } = await import('tiny-event-sourcing/postgres')
console.log('postgres entry imported: pg loaded ' + loaded())
const storage = postgresStorage({ connectionString: process.argv[2], log: 'entry' })
await storage.open()
await storage.close()
console.log('connection string used: pg loaded ' + loaded())
`

describe('the main entry and tiny-event-sourcing/postgres', () => {
  it('load pg only when a connection string needs it: never from the main entry', async () => {
    const child = await startChild(script, [server.url])
    expect(await child.nextLine()).toBe('main entry used: pg loaded false')
    expect(await child.nextLine()).toBe('postgres entry imported: pg loaded false')
    expect(await child.nextLine()).toBe('connection string used: pg loaded true')
    expect((await child.exited).code).toBe(0)
  })

  it('share one set of error classes in the CommonJS build too (require)', async () => {
    const dist = fileURLToPath(new URL('.', distEntry()))
    const script = `
      const loaded = () => Object.keys(require.cache).some((path) => path.includes('/node_modules/pg/'))
      const { initLog, AppendConflictError } = require(${JSON.stringify(`${dist}index.cjs`)})
      const { postgresStorage } = require(${JSON.stringify(`${dist}postgres.cjs`)})
      ;(async () => {
        console.log('pg loaded ' + loaded())
        const log = await initLog({ storage: postgresStorage({ connectionString: process.argv[1], log: 'required' }) })
        await log.append({ type: 'first' })
        const error = await log.append({ type: 'late' }, { expectedLastIndex: -1 }).catch((error) => error)
        console.log('conflict is the main entry class: ' + (error instanceof AppendConflictError))
        await log.close()
      })()
    `
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script, server.url])
    expect(stdout).toBe('pg loaded false\nconflict is the main entry class: true\n')
  })
})
