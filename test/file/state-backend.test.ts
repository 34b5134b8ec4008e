import { spawn } from 'node:child_process'
import { mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { CorruptStateError, fsStoreBackend, initStateStore } from '../../src/index.js'
import { describeStateStoreBackend } from '../../src/testing/index.js'
import { distEntry } from '../helpers/dist.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { cleanUpChildren, killChildren, startChild } from '../helpers/child.js'

afterAll(async () => {
  await cleanUpChildren()
  await removeTempDirs()
})
afterEach(killChildren)

const newFolder = () => tempDir('fs-backend')

/** What `run` throws (for matching its fields); fails the test when it does not throw. */
function thrownBy(run: () => void): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('expected it to throw')
}

describeStateStoreBackend(
  'fsStoreBackend',
  {
    create: async (initialState) => fsStoreBackend(join(await newFolder(), 'state.json'), initialState),
    reopen: (previous, initialState) => fsStoreBackend(previous.name, initialState),
  },
  { describe, it },
)

describe('fsStoreBackend', () => {
  it('creates missing folders on the first write', async () => {
    const filename = join(await newFolder(), 'a', 'b', 'read-model.json')
    const backend = fsStoreBackend(filename)
    expect(await backend.read()).toBeNull()
    await backend.write({ _version: 0, state: {} })
    expect(await readFile(filename, 'utf8')).toBe('{"_version":0,"state":{}}\n')
  })

  it('creates the folder again when it was deleted while the store was open', async () => {
    const folder = join(await newFolder(), 'data')
    const filename = join(folder, 'read-model.json')
    const backend = fsStoreBackend(filename)
    await backend.write({ _version: 0, state: {} })
    await rm(folder, { recursive: true })
    await backend.write({ _version: 1, state: { n: 1 } })
    expect(await readFile(filename, 'utf8')).toBe('{"_version":1,"state":{"n":1}}\n')
  })

  it('writes the envelope { "_version", "_projection"?, "state" } on one line', async () => {
    const filename = join(await newFolder(), 'state.json')
    const backend = fsStoreBackend(filename)
    await backend.write({ _version: 12, state: { byUrl: { 'https://a.example/': { title: 'A' } } } })
    expect(await readFile(filename, 'utf8')).toBe('{"_version":12,"state":{"byUrl":{"https://a.example/":{"title":"A"}}}}\n')
    await backend.write({ _version: 13, _projection: 2, state: [] })
    expect(await readFile(filename, 'utf8')).toBe('{"_version":13,"_projection":2,"state":[]}\n')
  })

  it('reads an envelope written by hand or by the original 0.2.x (pretty-printed, no _projection)', async () => {
    const filename = join(await newFolder(), 'state.json')
    await writeFile(filename, '{\n  "_version": 123,\n  "state": { "byUrl": {} }\n}\n')
    expect(await fsStoreBackend(filename).read()).toEqual({ _version: 123, state: { byUrl: {} } })
  })

  it('names the folder, and says to give a file, when given a folder', async () => {
    const folder = await newFolder()
    const error = await initStateStore({ storeBackend: fsStoreBackend(folder, {}) }).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'FILE_ACCESS', systemCode: 'EISDIR' })
    expect((error as Error).message).toBe(
      `tiny-event-sourcing: the state file ${folder} is a folder; give fsStoreBackend() the path of a JSON file, e.g. ${join(folder, 'read-model.json')}`,
    )
  })

  it('names the folder when a write would replace a folder, and leaves no temporary file', async () => {
    const parent = await newFolder()
    const folder = join(parent, 'read-model.json')
    await mkdir(folder)
    const message = `tiny-event-sourcing: the state file ${folder} is a folder; give fsStoreBackend() the path of a JSON file, e.g. ${join(folder, 'read-model.json')}`
    const backend = fsStoreBackend(folder)
    await expect(backend.write({ _version: 0, state: {} })).rejects.toMatchObject({ code: 'FILE_ACCESS', systemCode: 'EISDIR', message })
    expect(thrownBy(() => backend.writeSync!({ _version: 0, state: {} }))).toMatchObject({ code: 'FILE_ACCESS', systemCode: 'EISDIR', message })
    expect(await readdir(parent)).toEqual(['read-model.json'])
  })

  describe.each([
    ['is the folder itself (EEXIST)', [], 'EEXIST'],
    ['is on the way to the folder (ENOTDIR)', ['2026', 'november'], 'ENOTDIR'],
  ])('when a regular file %s', (_, between, createCode) => {
    async function setUp(): Promise<{ file: string; filename: string }> {
      const file = join(await newFolder(), 'notes.txt')
      await writeFile(file, 'not a folder\n')
      return { file, filename: join(file, ...between, 'state.json') }
    }
    const inTheWay = (file: string) => `${file} is a file, not a folder; choose another filename, or move that file out of the way`

    it('read() and initStateStore() name the state file and that file', async () => {
      const { file, filename } = await setUp()
      const expected = {
        code: 'FILE_ACCESS',
        systemCode: 'ENOTDIR',
        cause: { code: 'ENOTDIR' },
        message: `tiny-event-sourcing: cannot read the state file ${filename}: ${inTheWay(file)}`,
      }
      await expect(fsStoreBackend(filename).read()).rejects.toMatchObject(expected)
      await expect(initStateStore({ storeBackend: fsStoreBackend(filename, {}) })).rejects.toMatchObject(expected)
      expect(await readFile(file, 'utf8')).toBe('not a folder\n')
    })

    it('write() and writeSync() say the folder cannot be created, naming the state file and that file', async () => {
      const { file, filename } = await setUp()
      const expected = {
        code: 'FILE_ACCESS',
        systemCode: createCode,
        cause: { code: createCode },
        message: `tiny-event-sourcing: cannot create the folder for ${filename}: ${inTheWay(file)}`,
      }
      const backend = fsStoreBackend(filename)
      await expect(backend.write({ _version: 0, state: {} })).rejects.toMatchObject(expected)
      expect(thrownBy(() => backend.writeSync!({ _version: 0, state: {} }))).toMatchObject(expected)
      expect(await readFile(file, 'utf8')).toBe('not a folder\n')
    })
  })

  it('names its file by absolute path', () => {
    expect(fsStoreBackend('relative/state.json').name).toBe(join(process.cwd(), 'relative', 'state.json'))
  })

  it('needs a filename', () => {
    expect(() => fsStoreBackend('')).toThrow(/needs a filename/)
  })

  it('leaves no temporary files behind', async () => {
    const folder = await newFolder()
    const backend = fsStoreBackend(join(folder, 'state.json'))
    for (let version = 0; version < 50; version++) await backend.write({ _version: version, state: { version } })
    backend.writeSync!({ _version: 50, state: {} })
    expect(await readdir(folder)).toEqual(['state.json'])
  })

  it('skips, and never removes, a temporary name that is already taken (another copy of the library numbers from 1 too)', async () => {
    const folder = await newFolder()
    const filename = join(folder, 'state.json')
    // Newer than this process, so read() judges them live; they cover every number this test file can have issued.
    const taken = Array.from({ length: 300 }, (_, i) => `state.json.tmp-${process.pid}-${i + 1}`)
    for (const name of taken) await writeFile(join(folder, name), `someone else's ${name}`)
    const backend = fsStoreBackend(filename)
    expect(await backend.read()).toBeNull()
    await backend.write({ _version: 0, state: { via: 'write' } })
    backend.writeSync!({ _version: 1, state: { via: 'writeSync' } })
    expect(await backend.read()).toEqual({ _version: 1, state: { via: 'writeSync' } })
    expect((await readdir(folder)).sort()).toEqual(['state.json', ...taken].sort())
    for (const name of taken) expect(await readFile(join(folder, name), 'utf8')).toBe(`someone else's ${name}`)
  })

  const corruptions: [string, string | Buffer, RegExp][] = [
    ['invalid JSON', '{"_version":3,"state":{"a":', /is not valid JSON/],
    ['an empty file', '', /: is empty, where \{ "_version": N, "state": … \} was expected\. Left as it is/],
    ['only whitespace', '\n\n  \n', /: is empty, where \{ "_version": N, "state": … \} was expected\. Left as it is/],
    ['an array', '[1,2]', /is not a JSON object/],
    ['a missing "_version"', '{"state":{}}', /"_version" is missing/],
    ['a fractional "_version"', '{"_version":1.5,"state":{}}', /"_version" is 1.5/],
    ['a "_version" below -1', '{"_version":-2,"state":{}}', /"_version" is -2/],
    ['a string "_version"', '{"_version":"3","state":{}}', /"_version" is "3"/],
    ['no "state"', '{"_version":3}', /has no "state" field/],
    ['an object "_projection"', '{"_version":3,"_projection":{},"state":{}}', /"_projection" is \{\}/],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x5f, 0xff, 0xfe, 0x7d]), /is not valid UTF-8/],
  ]
  for (const [what, content, problem] of corruptions) {
    it(`refuses ${what} with an error naming the file, and leaves it untouched`, async () => {
      const filename = join(await newFolder(), 'state.json')
      await writeFile(filename, content)
      const before = await readFile(filename)
      const error = await fsStoreBackend(filename)
        .read()
        .catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(CorruptStateError)
      expect((error as CorruptStateError).code).toBe('STATE_CORRUPT')
      expect((error as CorruptStateError).filename).toBe(filename)
      expect((error as Error).message).toContain(filename)
      expect((error as Error).message).toMatch(problem)
      expect((error as Error).message).toMatch(/delete it to rebuild/)
      // Through a state store too: it does not open, so it cannot overwrite the file.
      await expect(initStateStore({ storeBackend: fsStoreBackend(filename, {}), writeInterval: 0 })).rejects.toBeInstanceOf(CorruptStateError)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(await readFile(filename)).toEqual(before)
    })
  }

  it('never leaves a half-written file when the writer is killed mid-stream', async () => {
    const filename = join(await newFolder(), 'state.json')
    // Big snapshots make each write take long enough to be caught in the middle.
    const script = `
      import { fsStoreBackend } from ${JSON.stringify(distEntry())}
      const backend = fsStoreBackend(${JSON.stringify(filename)})
      const padding = 'x'.repeat(512 * 1024)
      for (let version = 0; ; version++) {
        await backend.write({ _version: version, state: { version, padding } })
        if (version === 3) process.stdout.write('writing\\n')
      }
    `
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 100))
      child.kill('SIGKILL')
      await new Promise((resolve) => child.once('exit', resolve))
      const snapshot = await fsStoreBackend<{ version: number; padding: string }>(filename).read()
      expect(snapshot).not.toBeNull()
      expect(snapshot!.state.version).toBe(snapshot!._version)
      expect(snapshot!.state.padding).toHaveLength(512 * 1024)
    }
  })

  describe('temporary files left by a process killed mid-write', () => {
    /** What a writer killed between creating its temporary file and renaming it leaves: a real process writes it, named with its own pid, and is killed with SIGKILL. */
    async function killedWriter(filename: string): Promise<{ pid: number; temporary: string }> {
      const child = await startChild(
        `
        import { writeFileSync } from 'node:fs'
        const temporary = process.argv[2] + '.tmp-' + process.pid + '-1'
        writeFileSync(temporary, '{"_version":99,"state":{"half')
        console.log(temporary)
        setInterval(() => {}, 1000)
        `,
        [filename],
      )
      const temporary = await child.nextLine()
      await child.kill()
      return { pid: child.process.pid!, temporary }
    }

    /** Makes files look unchanged for `seconds`: leftovers younger than a minute are never removed. */
    async function age(files: string[], seconds = 61): Promise<void> {
      const then = new Date(Date.now() - seconds * 1000)
      for (const file of files) await utimes(file, then, then)
    }

    it('are removed by the first write once a minute old; those of live processes, younger ones and every other file stay', async () => {
      const folder = await newFolder()
      const filename = join(folder, 'state.json')
      await fsStoreBackend(filename).write({ _version: 7, state: { n: 7 } })
      const killed = [await killedWriter(filename), await killedWriter(filename), await killedWriter(filename)]
      const dead = killed[0]!.pid
      // A live process in the middle of a write: its temporary file must survive.
      const live = await startChild(`console.log(process.pid); setInterval(() => {}, 1000)`)
      const livePid = Number(await live.nextLine())
      // Its pid is dead, but it could be a write in progress in another pid namespace (a container sharing the folder).
      const young = killed.pop()!.temporary.slice(folder.length + 1)
      const kept = [
        young,
        `state.json.tmp-${livePid}-3`,
        // Not this state file's temporaries, or not named as the backend names them.
        `other.json.tmp-${dead}-1`,
        `state.json.tmp-${dead}-1.bak`,
        `state.json.tmp-${dead}`,
        `state.json.tmp-0${dead}-1`,
        `state.json.tmp-${dead}-x`,
        `state.json.tmp-${dead}-1-2`,
        `xstate.json.tmp-${dead}-1`,
        `state.json.tmp-`,
        'notes.txt',
      ]
      for (const name of kept.slice(1)) await writeFile(join(folder, name), name)
      await age([...killed.map(({ temporary }) => temporary), ...kept.slice(1).map((name) => join(folder, name))])
      const leftovers = killed.map(({ temporary }) => temporary.slice(folder.length + 1))
      expect((await readdir(folder)).sort()).toEqual([...kept, 'state.json', ...leftovers].sort())

      // Opening and reading change nothing on disk.
      const store = await initStateStore({ storeBackend: fsStoreBackend(filename, {}), writeInterval: 0 })
      expect(store.getVersion()).toBe(7)
      expect(store.getState()).toEqual({ n: 7 })
      expect((await readdir(folder)).sort()).toEqual([...kept, 'state.json', ...leftovers].sort())
      store.update({ n: 8 }, 8)
      await store.close()
      expect((await readdir(folder)).sort()).toEqual([...kept, 'state.json'].sort())
      for (const name of kept.slice(1)) expect(await readFile(join(folder, name), 'utf8')).toBe(name)
      expect(await readFile(filename, 'utf8')).toBe('{"_version":8,"state":{"n":8}}\n')
    }, 60_000)

    it('are removed by the first write even when there is no state file yet', async () => {
      const folder = await newFolder()
      const filename = join(folder, 'state.json')
      const { temporary } = await killedWriter(filename)
      await age([temporary])
      const backend = fsStoreBackend(filename)
      expect(await backend.read()).toBeNull()
      expect(await readdir(folder)).toEqual([temporary.slice(folder.length + 1)])
      await backend.write({ _version: 0, state: {} })
      expect(await readdir(folder)).toEqual(['state.json'])
    }, 60_000)

    it('do not hide a corrupt state file: read() still reports it and removes nothing', async () => {
      const folder = await newFolder()
      const filename = join(folder, 'state.json')
      await writeFile(filename, '{"_version":3,"state":')
      const { temporary } = await killedWriter(filename)
      await age([temporary])
      await expect(fsStoreBackend(filename).read()).rejects.toBeInstanceOf(CorruptStateError)
      expect((await readdir(folder)).sort()).toEqual(['state.json', temporary.slice(folder.length + 1)].sort())
      expect(await readFile(filename, 'utf8')).toBe('{"_version":3,"state":')
    }, 60_000)

    it('named with this process’s own pid are removed only if older than this process and not numbered by it', async () => {
      // A container restarted after a kill gives its process the same pid as the killed one.
      const folder = await newFolder()
      const filename = join(folder, 'state.json')
      await fsStoreBackend(filename).write({ _version: 0, state: {} })
      const before = new Date(performance.timeOrigin - 61_000)
      const earlier = `state.json.tmp-${process.pid}-99999999`
      const fresh = `state.json.tmp-${process.pid}-99999998` // could be another copy of the library, or a worker thread, writing now
      const numberedHere = `state.json.tmp-${process.pid}-1` // this module gave out 1: maybe being written now
      for (const name of [earlier, fresh, numberedHere]) await writeFile(join(folder, name), '{')
      await utimes(join(folder, earlier), before, before)
      await utimes(join(folder, numberedHere), before, before)
      await fsStoreBackend(filename).write({ _version: 1, state: {} })
      expect((await readdir(folder)).sort()).toEqual([fresh, numberedHere, 'state.json'].sort())
    })
  })
})
