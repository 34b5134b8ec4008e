/**
 * Generated damage to state files. Each case either opens as a valid
 * snapshot, or fails with a CorruptStateError naming the file; the file is
 * never modified by a store that could not open it, nor by one that opened
 * it and was closed without updates. Never another exception.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CorruptStateError, fsStoreBackend, initStateStore } from '../../src/index.js'
import { sleep, tempDir } from './harness.js'

interface Model {
  byUrl: Record<string, { title: string; tags: string[] }>
}

const pristineState: Model = {
  byUrl: {
    'https://a.example/': { title: 'Ça marche ☃', tags: ['𝄞', 'x'] },
    'https://b.example/': { title: 'B', tags: [] },
  },
}

type Outcome = { kind: 'opened'; version: number; state: Model } | { kind: 'failed'; error: unknown }

async function writePristine(filename: string, state: object = pristineState, version = 41): Promise<Buffer> {
  const store = await initStateStore<object>({ storeBackend: fsStoreBackend(filename), initialState: {}, writeInterval: 0 })
  store.update(state, version)
  await store.close()
  return readFile(filename)
}

/** Opens a store on the file and closes it without updating; then checks the file was not touched. */
async function openAndClose(filename: string, bytes: Buffer, settleMs = 20): Promise<Outcome> {
  await writeFile(filename, bytes)
  let outcome: Outcome
  try {
    const store = await initStateStore<Model>({ storeBackend: fsStoreBackend(filename), initialState: { byUrl: {} }, writeInterval: 0 })
    outcome = { kind: 'opened', version: store.getVersion(), state: store.getState() }
    await store.close()
  } catch (error) {
    outcome = { kind: 'failed', error }
  }
  // Give any background write a chance to happen, then check there was none.
  await sleep(settleMs)
  expect((await readFile(filename)).equals(bytes), 'the state file was modified').toBe(true)
  return outcome
}

function expectCorruptState(outcome: Outcome, filename: string, context: string): void {
  expect(outcome.kind, context).toBe('failed')
  const error = (outcome as { error: unknown }).error
  if (!(error instanceof CorruptStateError)) throw new Error(`${context}: expected a CorruptStateError, got: ${String(error)}`, { cause: error })
  expect(error.filename).toBe(filename)
  expect(error.message).toContain(filename)
}

describe('a damaged state file', () => {
  it('is refused, untouched, when cut at any byte (and opens when only the final newline is missing)', async () => {
    const dir = await tempDir('state-cut')
    const pristine = await writePristine(join(dir, 'pristine.json'))
    for (let cut = 0; cut <= pristine.length; cut++) {
      const filename = join(dir, `cut-${cut}.json`)
      const outcome = await openAndClose(filename, pristine.subarray(0, cut), 0)
      if (cut >= pristine.length - 1) {
        expect(outcome).toEqual({ kind: 'opened', version: 41, state: pristineState })
      } else {
        expectCorruptState(outcome, filename, `cut at ${cut}`)
      }
    }
  })

  it('is refused, untouched, or opens as a valid snapshot, whatever byte is damaged', { timeout: 120_000 }, async () => {
    const dir = await tempDir('state-flip')
    const pristine = await writePristine(join(dir, 'pristine.json'))
    const damages: ((byte: number) => number)[] = [0, 1, 2, 3, 4, 5, 6, 7].map((bit) => (byte: number) => byte ^ (1 << bit))
    damages.push(
      () => 0x0a,
      () => 0x00,
      () => 0xff,
    )
    for (let position = 0; position < pristine.length; position++) {
      for (const [which, damage] of damages.entries()) {
        const damaged = Buffer.from(pristine)
        damaged[position] = damage(damaged[position]!)
        if (damaged[position] === pristine[position]) continue
        const filename = join(dir, `flip-${position}-${which}.json`)
        const outcome = await openAndClose(filename, damaged, 0)
        const context = `byte ${position} damaged (${which})`
        if (outcome.kind === 'failed') {
          expectCorruptState(outcome, filename, context)
          continue
        }
        // Still a valid envelope (no checksums: a changed digit or letter reads as written).
        expect(Number.isInteger(outcome.version), context).toBe(true)
        expect(outcome.version, context).toBeGreaterThanOrEqual(-1)
        expect(JSON.parse(damaged.toString('utf8')).state, context).toEqual(outcome.state)
      }
    }
  })

  const refused: [string, (pristine: Buffer) => Buffer][] = [
    ['a 0-byte file', () => Buffer.alloc(0)],
    ['only newlines', () => Buffer.from('\n\n\n')],
    ['invalid UTF-8 inside a string', (pristine) => Buffer.concat([pristine.subarray(0, 40), Buffer.from([0xc3]), pristine.subarray(40)])],
    ['a lone surrogate encoded in UTF-8', (pristine) => Buffer.concat([pristine.subarray(0, 40), Buffer.from([0xed, 0xa0, 0x80]), pristine.subarray(40)])],
    ['garbage after the envelope', (pristine) => Buffer.concat([pristine, Buffer.from('garbage\n')])],
    ['two envelopes one after the other', (pristine) => Buffer.concat([pristine, pristine])],
    ['a JSON array', () => Buffer.from('[{"_version":1,"state":{}}]\n')],
    ['JSON null', () => Buffer.from('null\n')],
    ['a missing state', () => Buffer.from('{"_version":1}\n')],
    ['a fractional version', () => Buffer.from('{"_version":1.5,"state":{}}\n')],
    ['a version below -1', () => Buffer.from('{"_version":-2,"state":{}}\n')],
    ['a version as a string', () => Buffer.from('{"_version":"3","state":{}}\n')],
    ['NUL bytes, as a power cut can leave', (pristine) => Buffer.alloc(pristine.length)],
  ]
  it.each(refused)('is refused, untouched, when it holds %s', async (_name, make) => {
    const dir = await tempDir('state-refused')
    const damaged = make(await writePristine(join(dir, 'pristine.json')))
    const filename = join(dir, 'state.json')
    expectCorruptState(await openAndClose(filename, damaged), filename, _name)
  })

  it('opens one edited on Windows (CRLF) or pretty-printed by hand, and leaves it as it is', async () => {
    const dir = await tempDir('state-crlf')
    const text = `${JSON.stringify({ _version: 41, state: pristineState }, null, 2).replaceAll('\n', '\r\n')}\r\n`
    const filename = join(dir, 'state.json')
    expect(await openAndClose(filename, Buffer.from(text))).toEqual({ kind: 'opened', version: 41, state: pristineState })
  })

  it('opens a huge state exactly', async () => {
    const dir = await tempDir('state-huge')
    const huge = { byUrl: { big: { title: 'h'.repeat(20 * 1024 * 1024), tags: ['☃'] } } }
    const filename = join(dir, 'state.json')
    const bytes = await writePristine(filename, huge, 7)
    expect(await openAndClose(filename, bytes)).toEqual({ kind: 'opened', version: 7, state: huge })
  })
})
