/**
 * What a user without permission to a log's or state file's folder is told.
 * The library runs in a child process as an unprivileged user: as `nobody`
 * when the tests run as root (whom permissions do not stop), otherwise as
 * the tests' own user, whom read-only folders stop just the same.
 */
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { cleanUpChildren, killChildren, startChild } from '../helpers/child.js'

const asRoot = process.getuid?.() === 0
/** The user `nobody`, whom root's child processes become. */
const unprivileged = asRoot ? { uid: 65534, gid: 65534 } : undefined

/** Runs one operation on `filename` in the child; what it threw (`message`, `code`, the cause's `code`), or `{ ok: true }`. */
const script = `
import { fsStoreBackend, initLog } from 'tiny-event-sourcing'
const [operation, filename] = process.argv.slice(2)
const snapshot = { version: 0, state: { n: 1 } }
try {
  if (operation === 'log') await (await initLog({ filename })).close()
  else if (operation === 'follow') await (await initLog({ filename, readOnly: true })).close()
  else if (operation === 'state') await fsStoreBackend(filename).write(snapshot)
  else if (operation === 'state sync') fsStoreBackend(filename).writeSync(snapshot)
  else if (operation === 'state read') await fsStoreBackend(filename).read()
  else throw new Error('unknown operation ' + operation)
  console.log(JSON.stringify({ ok: true }))
} catch (error) {
  console.log(JSON.stringify({ message: error.message, code: error.code, systemCode: error.systemCode, causeCode: error.cause?.code }))
}
`

async function attempt(operation: 'log' | 'follow' | 'state' | 'state sync' | 'state read', filename: string): Promise<unknown> {
  const child = await startChild(script, [operation, filename], { user: unprivileged })
  return JSON.parse(await child.nextLine()) as unknown
}

/**
 * Writes another user's private file: readable by its owner only, and when
 * the child runs as the file's owner, by no one but root.
 */
async function writePrivateFile(filename: string, text: string): Promise<void> {
  await writeFile(filename, text)
  await chmod(filename, asRoot ? 0o600 : 0o000)
}

/** Asserts that a file `writePrivateFile` wrote still holds `text`. */
async function expectUnchanged(filename: string, text: string): Promise<void> {
  await chmod(filename, 0o600)
  expect(await readFile(filename, 'utf8')).toBe(text)
}

function denied(message: string): unknown {
  return { message, code: 'FILE_ACCESS', systemCode: 'EACCES', causeCode: 'EACCES' }
}

/** A folder the child can enter and read but not write to. */
let readOnlyFolder: string
/** A folder the child can write to. */
let writableFolder: string

beforeAll(async () => {
  const folder = await tempDir('permissions')
  await chmod(folder, 0o755) // mkdtemp's folders only their owner may enter
  readOnlyFolder = join(folder, 'read-only')
  writableFolder = join(folder, 'writable')
  await mkdir(readOnlyFolder)
  await chmod(readOnlyFolder, 0o555)
  await mkdir(writableFolder)
  await chmod(writableFolder, 0o777)
})
afterAll(async () => {
  await cleanUpChildren()
  await removeTempDirs()
})
afterEach(killChildren)

describe('a log in a folder this user may not write to', () => {
  it('cannot have its folder created: says so, naming the folder to give access to', async () => {
    const filename = join(readOnlyFolder, 'sub', 'log.ndjson')
    expect(await attempt('log', filename)).toEqual(
      denied(
        `tiny-event-sourcing: cannot create the folder for ${filename}: permission denied; choose another filename, or give this user write access to ${readOnlyFolder}`,
      ),
    )
    expect(await readdir(readOnlyFolder)).toEqual([])
  })

  it('cannot be opened for writing, its lock file being created first: says so, naming the folder to give access to', async () => {
    const filename = join(readOnlyFolder, 'log.ndjson')
    expect(await attempt('log', filename)).toEqual(
      denied(
        `tiny-event-sourcing: cannot create the lock file for ${filename}: permission denied; choose another filename, or give this user write access to ${readOnlyFolder}`,
      ),
    )
    expect(await readdir(readOnlyFolder)).toEqual([])
  })
})

describe('a log file this user may not write to, in a folder it may', () => {
  it('cannot be opened for writing: says so, and leaves no lock behind', async () => {
    const filename = join(writableFolder, 'not-writable.ndjson')
    const text = '{"type":"added","index":0}\n'
    await writeFile(filename, text)
    await chmod(filename, 0o444)
    expect(await attempt('log', filename)).toEqual(
      denied(`tiny-event-sourcing: cannot open ${filename} for writing: permission denied; choose another filename, or give this user write access to it`),
    )
    expect((await readdir(writableFolder)).filter((name) => name.startsWith('not-writable'))).toEqual(['not-writable.ndjson'])
    expect(await readFile(filename, 'utf8')).toBe(text)
  })
})

describe("a log whose lock this user may not read (another user's)", () => {
  it('cannot be opened for writing: says so at once, naming the lock, and leaves the lock as it is', async () => {
    const filename = join(writableFolder, 'locked.ndjson')
    const lockFile = `${filename}.lock`
    const lockText = `${JSON.stringify({ pid: 1, hostname: 'another-host', since: new Date().toISOString() })}\n`
    await writeFile(filename, '')
    await chmod(filename, 0o666)
    await writePrivateFile(lockFile, lockText)
    expect(await attempt('log', filename)).toEqual(
      denied(
        `tiny-event-sourcing: cannot open ${filename} for writing: permission denied reading its lock ${lockFile}, which another user's process may hold; ` +
          'open the log as that user, or give this user read access to the lock',
      ),
    )
    // No draft of the refused writer is left beside the lock.
    expect((await readdir(writableFolder)).filter((name) => name.startsWith('locked')).sort()).toEqual(['locked.ndjson', 'locked.ndjson.lock'])
    await expectUnchanged(lockFile, lockText)
  })
})

describe('a log file this user may not read', () => {
  it('cannot be followed: says so', async () => {
    const filename = join(writableFolder, 'private.ndjson')
    const text = '{"type":"added","index":0}\n'
    await writePrivateFile(filename, text)
    expect(await attempt('follow', filename)).toEqual(
      denied(`tiny-event-sourcing: cannot follow ${filename}: permission denied; give this user read access to it`),
    )
    expect((await readdir(writableFolder)).filter((name) => name.startsWith('private'))).toEqual(['private.ndjson'])
    await expectUnchanged(filename, text)
  })
})

describe.each(['state', 'state sync'] as const)('a state file in a folder this user may not write to (%s write)', (operation) => {
  it('cannot have its folder created: says so, naming the folder to give access to', async () => {
    const filename = join(readOnlyFolder, 'sub', 'state.json')
    expect(await attempt(operation, filename)).toEqual(
      denied(
        `tiny-event-sourcing: cannot create the folder for ${filename}: permission denied; choose another filename, or give this user write access to ${readOnlyFolder}`,
      ),
    )
    expect(await readdir(readOnlyFolder)).toEqual([])
  })

  it('cannot be written, its temporary file being refused: says so, naming the folder to give access to', async () => {
    const filename = join(readOnlyFolder, 'state.json')
    expect(await attempt(operation, filename)).toEqual(
      denied(
        `tiny-event-sourcing: cannot write the state file ${filename}: permission denied; choose another filename, or give this user write access to ${readOnlyFolder}`,
      ),
    )
    expect(await readdir(readOnlyFolder)).toEqual([])
  })
})

describe('a state file this user may not read', () => {
  it('cannot be read: says so, and leaves it as it is', async () => {
    const filename = join(writableFolder, 'private-state.json')
    const text = '{"_version":0,"state":{"secret":true}}\n'
    await writePrivateFile(filename, text)
    expect(await attempt('state read', filename)).toEqual(
      denied(`tiny-event-sourcing: cannot read the state file ${filename}: permission denied; give this user read access to it`),
    )
    await expectUnchanged(filename, text)
  })
})
