import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  type AppendConflictError,
  FileAccessError,
  initLog,
  InvalidEventError,
  isTinyEventSourcingError,
  LogClosedError,
  memoryStorage,
  TinyEventSourcingError,
  type TinyEventSourcingErrorCode,
  UsageError,
} from '../../src/index.js'
import { distEntry } from '../helpers/dist.js'

const run = promisify(execFile)

describe('isTinyEventSourcingError', () => {
  it("recognises the library's errors, TypeErrors included, and nothing else", () => {
    const ours = [new LogClosedError('log.ndjson'), new InvalidEventError('bad'), new UsageError('wrong'), new FileAccessError('denied')]
    for (const error of ours) expect(isTinyEventSourcingError(error)).toBe(true)
    const others = [
      new Error('tiny-event-sourcing: look-alike'),
      Object.assign(new TypeError('x'), { code: 'USAGE' }),
      { code: 'LOG_CLOSED' },
      'LOG_CLOSED',
      null,
      undefined,
    ]
    for (const value of others) expect(isTinyEventSourcingError(value)).toBe(false)
  })

  it('checks the code when given one, and narrows the type to that error', async () => {
    const log = await initLog({ storage: memoryStorage() })
    const error = await log.append({ n: 1 }, { expectedLastIndex: 5 }).catch((caught: unknown) => caught)
    expect(isTinyEventSourcingError(error, 'LOG_CLOSED')).toBe(false)
    expect(isTinyEventSourcingError(error, 'APPEND_CONFLICT')).toBe(true)
    if (isTinyEventSourcingError(error, 'APPEND_CONFLICT')) {
      expectTypeOf(error).toEqualTypeOf<AppendConflictError>()
      expect(error.actualLastIndex).toBe(-1)
    }
    await log.close()
  })

  it('recognises an error by its brand, as another copy of the library would make it', () => {
    // What a second copy's class gives: its own prototype chain, the same registered symbol.
    const fromElsewhere = Object.assign(new Error('tiny-event-sourcing: the log x is closed'), { code: 'LOG_CLOSED' })
    Object.defineProperty(fromElsewhere, Symbol.for('tiny-event-sourcing.error'), { value: true })
    expect(fromElsewhere instanceof TinyEventSourcingError).toBe(false)
    expect(isTinyEventSourcingError(fromElsewhere, 'LOG_CLOSED')).toBe(true)
  })
})

describe('error codes', () => {
  it('usage mistakes are TypeErrors with code USAGE and the prefix once', async () => {
    const error = await initLog({}).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toBeInstanceOf(UsageError)
    expect(error).toMatchObject({ name: 'UsageError', code: 'USAGE', message: 'tiny-event-sourcing: initLog() needs { filename } or { storage }' })
  })

  it('keeps a file error its Node code as systemCode, beside its own', () => {
    const cause = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })
    expect(new FileAccessError('cannot open x', cause)).toMatchObject({ code: 'FILE_ACCESS', systemCode: 'EACCES', cause, name: 'FileAccessError' })
    expect(new FileAccessError('x is a folder', undefined, 'EISDIR')).toMatchObject({ systemCode: 'EISDIR' })
  })

  it('are one union type that each class narrows', () => {
    expectTypeOf(new LogClosedError('x').code).toEqualTypeOf<'LOG_CLOSED'>()
    expectTypeOf<TinyEventSourcingError['code']>().toEqualTypeOf<TinyEventSourcingErrorCode>()
    expectTypeOf<'USAGE'>().toExtend<TinyEventSourcingErrorCode>()
  })
})

describe('with both builds of the package loaded in one program', () => {
  it('isTinyEventSourcingError recognises the CommonJS copy’s errors in ESM code, where instanceof does not', async () => {
    const esm = distEntry()
    const cjs = fileURLToPath(new URL('index.cjs', esm))
    const script = `
      import { createRequire } from 'node:module'
      const esm = await import(${JSON.stringify(esm)})
      const cjs = createRequire(import.meta.url)(${JSON.stringify(cjs)})
      const log = await cjs.initLog({ storage: cjs.memoryStorage() })
      await log.close()
      const closed = await log.append({ n: 1 }).catch((error) => error)
      const usage = await cjs.initLog({}).catch((error) => error)
      console.log(JSON.stringify({
        instanceOf: closed instanceof esm.LogClosedError,
        sameClass: esm.LogClosedError === cjs.LogClosedError,
        closed: esm.isTinyEventSourcingError(closed, 'LOG_CLOSED'),
        usage: esm.isTinyEventSourcingError(usage, 'USAGE'),
        wrongCode: esm.isTinyEventSourcingError(closed, 'USAGE'),
        backwards: cjs.isTinyEventSourcingError(await esm.initLog({}).catch((error) => error), 'USAGE'),
      }))
    `
    const { stdout } = await run(process.execPath, ['--input-type=module', '--eval', script])
    expect(JSON.parse(stdout)).toEqual({ instanceOf: false, sameClass: false, closed: true, usage: true, wrongCode: false, backwards: true })
  })
})
