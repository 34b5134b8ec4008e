import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  CorruptStateError,
  StaleVersionError,
  StateStoreClosedError,
  fsStoreBackend,
  initStateStore,
  memoryStoreBackend,
  type StateSnapshot,
  type StateStoreBackend,
} from '../../src/index.js'
import { distEntry } from '../helpers/dist.js'
import { poll } from '../helpers/poll.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterAll(removeTempDirs)

const newFolder = () => tempDir('state-store')
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A memory backend that also records when each write started and what it wrote. */
function recordingBackend<S>(initialState?: S) {
  const inner = memoryStoreBackend<S>(initialState)
  const writes: { at: number; snapshot: StateSnapshot<S> }[] = []
  const backend: StateStoreBackend<S> = {
    ...inner,
    async write(snapshot) {
      writes.push({ at: Date.now(), snapshot: structuredClone(snapshot) })
      await inner.write(snapshot)
    },
  }
  return { backend, writes }
}

async function readEnvelope(filename: string): Promise<unknown> {
  return JSON.parse(await readFile(filename, 'utf8'))
}

describe('initStateStore', () => {
  it('starts a new store at version -1 with the initial state, given either way', async () => {
    const folder = await newFolder()
    const readmeForm = await initStateStore({ storeBackend: fsStoreBackend(join(folder, 'a.json'), { byUrl: {} }) })
    const laterForm = await initStateStore({ storeBackend: fsStoreBackend(join(folder, 'b.json')), initialState: { byUrl: {} } })
    for (const store of [readmeForm, laterForm]) {
      expect(store.getVersion()).toBe(-1)
      expect(store.getState()).toEqual({ byUrl: {} })
      await store.close()
    }
  })

  it("prefers the initialState option over the backend's", async () => {
    const store = await initStateStore({ storeBackend: memoryStoreBackend({ from: 'backend' }), initialState: { from: 'option' } })
    expect(store.getState()).toEqual({ from: 'option' })
  })

  it('needs an initial state, and says where to give it', async () => {
    await expect(initStateStore({ storeBackend: memoryStoreBackend() })).rejects.toThrow(/needs an initialState, in initStateStore\(\) or fsStoreBackend\(\)/)
  })

  it('needs a backend', async () => {
    await expect(initStateStore({} as never)).rejects.toThrow(/needs \{ storeBackend \}/)
  })

  it('refuses a negative or non-numeric writeInterval', async () => {
    await expect(initStateStore({ storeBackend: memoryStoreBackend({}), writeInterval: -1 })).rejects.toThrow(/writeInterval/)
    await expect(initStateStore({ storeBackend: memoryStoreBackend({}), writeInterval: Number.NaN })).rejects.toThrow(/writeInterval/)
  })

  it('checks what a backend of your own reads: null for nothing stored, an integer version of -1 or more', async () => {
    const reading = (snapshot: unknown): StateStoreBackend<{ n: number }> => ({
      name: 'custom',
      initialState: { n: 0 },
      read: async () => snapshot as StateSnapshot<{ n: number }>,
      write: async () => {},
    })
    await expect(initStateStore({ storeBackend: reading(undefined) })).rejects.toThrow('custom: read() gave undefined; give null when nothing is stored')
    const badVersion = await initStateStore({ storeBackend: reading({ _version: 1.5, state: { n: 1 } }) }).catch((caught: unknown) => caught)
    expect(badVersion).toBeInstanceOf(CorruptStateError)
    expect((badVersion as Error).message).toContain('custom (as read by its backend): "_version" is 1.5, where an integer of -1 or more was expected')
    expect((await initStateStore({ storeBackend: reading(null) })).getVersion()).toBe(-1)
  })

  it('does not share the initial state object: a mutated state does not leak into it', async () => {
    const initialState = { list: [] as number[] }
    const store = await initStateStore({ storeBackend: memoryStoreBackend(initialState) })
    store.getState().list.push(1)
    expect(initialState).toEqual({ list: [] })
  })

  it('opens where the stored snapshot left off', async () => {
    const backend = memoryStoreBackend<{ n: number }>({ n: 0 })
    await backend.write({ _version: 41, state: { n: 42 } })
    const store = await initStateStore({ storeBackend: backend })
    expect(store.getVersion()).toBe(41)
    expect(store.getState()).toEqual({ n: 42 })
  })
})

describe('store.update', () => {
  it('replaces state and version at once', async () => {
    const store = await initStateStore({ storeBackend: memoryStoreBackend({ n: 0 }) })
    store.update({ n: 1 }, 0)
    store.update({ n: 2 }, 5)
    expect(store.getState()).toEqual({ n: 2 })
    expect(store.getVersion()).toBe(5)
  })

  it('refuses a version that is not higher, with STALE_VERSION, keeping the old state', async () => {
    const backend = memoryStoreBackend({ n: 0 })
    const store = await initStateStore({ storeBackend: backend, writeInterval: 0 })
    store.update({ n: 1 }, 3)
    for (const version of [3, 2, -1]) {
      const error = (() => {
        try {
          store.update({ n: 99 }, version)
        } catch (caught) {
          return caught
        }
      })()
      expect(error).toBeInstanceOf(StaleVersionError)
      expect(error).toMatchObject({ code: 'STALE_VERSION', currentVersion: 3, attemptedVersion: version })
      expect((error as Error).message).toContain(`is at version 3: update(state, ${version}) refused; skip events with event.index <= store.getVersion()`)
    }
    expect(store.getState()).toEqual({ n: 1 })
    expect(store.getVersion()).toBe(3)
    await store.flush()
    expect(await backend.read()).toEqual({ _version: 3, state: { n: 1 } })
  })

  it('refuses a version that is not an integer', async () => {
    const store = await initStateStore({ storeBackend: memoryStoreBackend({}) })
    expect(() => store.update({}, 1.5)).toThrow(/update\(state, version\) needs an event index as version, got/)
    expect(() => store.update({}, Number.NaN)).toThrow(/update\(state, version\) needs an event index as version, got/)
    expect(store.getVersion()).toBe(-1)
  })
})

describe('writing in the background', () => {
  it('writes a burst of updates once, with the last state', async () => {
    const { backend, writes } = recordingBackend({ n: -1 })
    const store = await initStateStore({ storeBackend: backend, writeInterval: 100 })
    for (let n = 0; n < 1000; n++) store.update({ n }, n)
    await store.flush()
    await sleep(300)
    expect(writes).toHaveLength(1)
    expect(writes[0]!.snapshot).toEqual({ _version: 999, state: { n: 999 } })
    await store.close()
    expect(writes).toHaveLength(1)
  })

  it('throttles rather than debounces: a steady stream reaches the backend every interval, never more often', async () => {
    const interval = 100
    const { backend, writes } = recordingBackend({ n: -1 })
    const store = await initStateStore({ storeBackend: backend, writeInterval: interval })
    // Updates every 10 ms for 10 intervals: a debounce would write nothing until they stop.
    const streamStart = Date.now()
    for (let n = 0; Date.now() - streamStart < 10 * interval; n++) {
      store.update({ n }, n)
      await sleep(10)
    }
    const duringStream = writes.length
    expect(duringStream).toBeGreaterThanOrEqual(3)
    // The store reads the clock just before calling write(), the backend just after: a garbage
    // collection or, on a loaded machine, the scheduler can pause the process in between (seen
    // once: 90 ms apart for 100), so allow a fifth of the interval. A debounce or no throttle
    // would still fail by far.
    for (let i = 1; i < writes.length; i++) expect(writes[i]!.at - writes[i - 1]!.at).toBeGreaterThanOrEqual(interval * 0.8)
    // Each write carries the latest state of its moment: versions only grow.
    for (let i = 1; i < writes.length; i++) expect(writes[i]!.snapshot._version).toBeGreaterThan(writes[i - 1]!.snapshot._version)
    await store.close()
    expect(writes.at(-1)!.snapshot._version).toBe(store.getVersion())
  })

  it('writes the first update after a quiet spell without waiting', async () => {
    const { backend, writes } = recordingBackend({ n: -1 })
    const store = await initStateStore({ storeBackend: backend, writeInterval: 60_000 })
    store.update({ n: 0 }, 0)
    await sleep(50)
    expect(writes.map((write) => write.snapshot._version)).toEqual([0])
    store.update({ n: 1 }, 1)
    await sleep(50)
    expect(writes).toHaveLength(1) // the next one waits for the interval…
    await store.flush() // …unless flushed
    expect(writes.map((write) => write.snapshot._version)).toEqual([0, 1])
    await store.flush() // nothing new: no write
    expect(writes).toHaveLength(2)
    await store.close()
  })

  it('flush() waits for a write in flight and then writes what came after it', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const inner = memoryStoreBackend({ n: -1 })
    const written: number[] = []
    const slow: StateStoreBackend<{ n: number }> = {
      ...inner,
      async write(snapshot) {
        if (written.length === 0) await gate
        written.push(snapshot._version)
        await inner.write(snapshot)
      },
    }
    const store = await initStateStore({ storeBackend: slow, writeInterval: 0 })
    store.update({ n: 0 }, 0)
    await sleep(20) // the first write is now in flight, held at the gate
    store.update({ n: 1 }, 1)
    const flushed = store.flush()
    release()
    await flushed
    expect(written).toEqual([0, 1])
    expect(await inner.read()).toEqual({ _version: 1, state: { n: 1 } })
    await store.close()
  })

  it('rejects flush() when the backend fails, keeps the state, and succeeds once the backend recovers', async () => {
    const inner = memoryStoreBackend({ n: -1 })
    let broken = true
    const flaky: StateStoreBackend<{ n: number }> = {
      ...inner,
      async write(snapshot) {
        if (broken) throw new Error('disk full')
        await inner.write(snapshot)
      },
    }
    const store = await initStateStore({ storeBackend: flaky, writeInterval: 60_000 })
    store.update({ n: 0 }, 0)
    await expect(store.flush()).rejects.toThrow('disk full')
    expect(store.getState()).toEqual({ n: 0 })
    broken = false
    await store.flush()
    expect(await inner.read()).toEqual({ _version: 0, state: { n: 0 } })
    await store.close()
  })
})

describe('a backend that fails in the background', () => {
  it('warns once (not on every retry), retries, and recovers', async () => {
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    try {
      const inner = memoryStoreBackend({ n: -1 }, { name: 'flaky-store' })
      let failures = 0
      const flaky: StateStoreBackend<{ n: number }> = {
        ...inner,
        async write(snapshot) {
          if (failures < 2) {
            failures++
            throw new Error('disk full')
          }
          await inner.write(snapshot)
        },
      }
      const store = await initStateStore({ storeBackend: flaky, writeInterval: 0 })
      store.update({ n: 0 }, 0)
      // Retries come no faster than once a second after a failure.
      await poll(
        () => inner.read(),
        (snapshot) => snapshot !== null,
      )
      expect(failures).toBe(2)
      expect(await inner.read()).toEqual({ _version: 0, state: { n: 0 } })
      const ours = warnings.filter((warning) => (warning as { code?: string }).code === 'TINY_EVENT_SOURCING_STATE_WRITE_FAILED')
      expect(ours).toHaveLength(1)
      expect(ours[0]!.message).toContain('writing the state store flaky-store failed (disk full)')
      await store.close()
    } finally {
      process.off('warning', onWarning)
    }
  })
})

describe('store.close', () => {
  it('writes the latest state, then refuses updates with STATE_STORE_CLOSED', async () => {
    const filename = join(await newFolder(), 'state.json')
    const store = await initStateStore({ storeBackend: fsStoreBackend(filename, { n: 0 }), writeInterval: 60_000 })
    store.update({ n: 1 }, 0)
    await store.flush()
    store.update({ n: 2 }, 1)
    await store.close()
    expect(await readEnvelope(filename)).toEqual({ _version: 1, state: { n: 2 } })
    expect(() => store.update({ n: 3 }, 2)).toThrow(StateStoreClosedError)
    expect(() => store.update({ n: 3 }, 2)).toThrow(expect.objectContaining({ code: 'STATE_STORE_CLOSED' }))
    await store.close() // twice is harmless
    expect(store.getState()).toEqual({ n: 2 })
  })
})

describe('surviving the end of the process', () => {
  /** Runs a child that updates a file-backed store (writeInterval one minute) and ends as `ending` says. */
  async function runChild(filename: string, ending: string, backendExpression = 'fsStoreBackend(filename, { n: 0 })') {
    const script = `
      import { fsStoreBackend, initStateStore } from ${JSON.stringify(distEntry())}
      const filename = ${JSON.stringify(filename)}
      const store = await initStateStore({ storeBackend: ${backendExpression}, writeInterval: 60_000 })
      store.update({ n: 1 }, 0)
      await store.flush()
      store.update({ n: 2 }, 1)
      store.update({ n: 3 }, 2)
      ${ending}
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const code = await new Promise((resolve) => child.once('exit', resolve))
    return { code, output }
  }

  it('keeps the latest state through process.exit() without close()', async () => {
    const filename = join(await newFolder(), 'state.json')
    const { code, output } = await runChild(filename, 'process.exit(0)')
    expect(code).toBe(0)
    expect(output).toBe('') // quiet
    expect(await readEnvelope(filename)).toEqual({ _version: 2, state: { n: 3 } })
  })

  it('keeps the latest state when the process just ends without close()', async () => {
    const filename = join(await newFolder(), 'state.json')
    const { code, output } = await runChild(filename, '')
    expect(code).toBe(0)
    expect(output).toBe('')
    expect(await readEnvelope(filename)).toEqual({ _version: 2, state: { n: 3 } })
  })

  it('keeps it at a natural end even with a backend that cannot write synchronously', async () => {
    const filename = join(await newFolder(), 'state.json')
    const { code } = await runChild(filename, '', '{ ...fsStoreBackend(filename, { n: 0 }), writeSync: undefined }')
    expect(code).toBe(0)
    expect(await readEnvelope(filename)).toEqual({ _version: 2, state: { n: 3 } })
  })

  it('says on stderr when the state cannot be saved at exit', async () => {
    const folder = await newFolder()
    const filename = join(folder, 'state.json')
    const { output } = await runChild(filename, 'process.exit(0)', `{ ...fsStoreBackend(filename, { n: 0 }), writeSync() { throw new Error('disk on fire') } }`)
    expect(output).toContain(`could not save the state store ${filename} on exit: disk on fire`)
    expect(await readEnvelope(filename)).toEqual({ _version: 0, state: { n: 1 } })
  })
})
