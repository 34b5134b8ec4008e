import { isUtf8 } from 'node:buffer'
import { closeSync, fdatasyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { createFolderFor, createFolderForSync, explainedError, folderError, readDeniedError } from './folder.js'
import { CorruptStateError, usageError } from '../core/errors.js'
import { isProcessAlive, removeLeftovers } from './process-alive.js'
import { syncFolder, syncFolderSync } from './sync-folder.js'
import { parseSnapshot, serializeSnapshot, serializeSnapshotInSlices } from '../core/snapshot-envelope.js'
import type { StateSnapshot, StateStoreBackend } from '../core/state-store-backend.js'

/** Makes each temporary file name unique within this process. */
let temporaryCount = 0

/**
 * Whether a temporary file named with this process's own pid was left by an
 * earlier process that had the same pid (a container restarted after a kill
 * gives its process the same pid again): a number this module never gave
 * out, on a file older than this process. Either alone could misjudge the
 * file of a worker thread or of a second copy of this library.
 */
function leftByEarlierProcess(n: number, changedMs: number): boolean {
  return n > temporaryCount && changedMs < performance.timeOrigin
}

/**
 * Removes the temporary files of the state file `name` that no write will
 * ever rename: `<name>.tmp-<pid>-<n>` of a process killed mid-write. Those of
 * live processes may be in the middle of a write and stay.
 */
function removeLeftoverTemporaries(name: string): Promise<void> {
  return removeLeftovers(`${name}.tmp-`, /^([1-9]\d*)-([1-9]\d*)$/, (_file, [, pid, n], changedMs) =>
    Number(pid) === process.pid ? leftByEarlierProcess(Number(n), changedMs) : !isProcessAlive(Number(pid)),
  )
}

/**
 * A state-store backend that keeps the snapshot in a JSON file, the envelope
 * `{ "_version": N, "state": … }`. Missing folders are created on the first
 * write. The text is built in slices and written piece by piece, so saving a
 * big state does not freeze the program; reading costs one `JSON.parse`. Each write goes to a temporary file next to it, is flushed to disk,
 * and is renamed over the old file, so the file is always either the old
 * snapshot or the new one, even after a crash or power loss. A file that is
 * not a valid envelope is reported, never overwritten. Temporary files left
 * by a process killed mid-write are removed by the first `write()` of the
 * next backend object, once they are a minute old; reading changes nothing.
 *
 * @throws (its `read()` rejects with) `CorruptStateError` (`STATE_CORRUPT`) for a file that is not a
 * snapshot; `read()` and `write()` reject with `FileAccessError` (`FILE_ACCESS`) for a file or folder
 * they may not read or write.
 * @example
 * const store = await initStateStore({ storeBackend: fsStoreBackend('data/bookmarks.json', { byUrl: {} }) })
 */
export function fsStoreBackend<S>(filename: string, initialState?: S): StateStoreBackend<S> {
  if (typeof filename !== 'string' || filename === '') {
    throw usageError('fsStoreBackend() needs a filename, e.g. fsStoreBackend("data/read-model.json", initialState)')
  }
  const name = resolve(filename)
  const folder = dirname(name)
  const temporaryName = () => `${name}.tmp-${process.pid}-${++temporaryCount}`
  /**
   * Leftovers are looked for by the process about to write there anyway, at
   * most once a minute: one younger than a minute is left for a later look.
   */
  let lastTidy = -Infinity
  // A name already taken is someone else's file (a second copy of this
  // library, or a worker thread, numbers from 1 too): skip it, never remove it.
  const openTemporary = async (): Promise<[string, FileHandle]> => {
    for (;;) {
      const temporary = temporaryName()
      try {
        return [temporary, await open(temporary, 'wx')]
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
    }
  }
  const openTemporarySync = (): [string, number] => {
    for (;;) {
      const temporary = temporaryName()
      try {
        return [temporary, openSync(temporary, 'wx')]
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
    }
  }
  /**
   * Node's message names no path when the state file is a folder, and only the
   * temporary file when the folder cannot be written to: these name the state
   * file and say what to give instead, or which folder needs write access.
   */
  const writeError = (error: unknown): unknown => {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return folderError('write the state file', name, error)
    return folderGiven(error)
  }
  /** Node's message names no path when the state file is a folder: this one names it and says what to give instead. */
  const folderGiven = (error: unknown): unknown => {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'EISDIR') return error
    return explainedError(`the state file ${name} is a folder; give fsStoreBackend() the path of a JSON file, e.g. ${resolve(name, 'read-model.json')}`, error)
  }

  const backend: StateStoreBackend<S> = {
    name,
    async read(): Promise<StateSnapshot<S> | null> {
      let bytes: Buffer
      try {
        bytes = await readFile(name)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'ENOENT') return null
        if (code === 'ENOTDIR') throw folderError('read the state file', name, error) // Node's message does not say which part is a file
        if (code === 'EACCES' || code === 'EPERM') throw readDeniedError('read the state file', name, error)
        throw folderGiven(error)
      }
      // Decoding would quietly replace bad bytes, and the next write would make that permanent.
      if (!isUtf8(bytes)) throw new CorruptStateError(name, 'is not valid UTF-8 text')
      return parseSnapshot<S>(bytes.toString('utf8'), name)
    },

    async write(snapshot: StateSnapshot<S>): Promise<void> {
      const pieces = await serializeSnapshotInSlices(snapshot)
      // Every time, not once: the folder may have been deleted to start the read models over.
      await createFolderFor(name)
      if (Date.now() - lastTidy >= 60_000) {
        lastTidy = Date.now()
        await removeLeftoverTemporaries(name)
      }
      let temporary: string | undefined
      try {
        const [opened, file] = await openTemporary()
        temporary = opened
        try {
          // Piece by piece: each is encoded as it is written, never the whole text at once.
          for (const piece of pieces) await file.write(piece)
          await file.datasync()
        } finally {
          await file.close()
        }
        await rename(temporary, name)
      } catch (error) {
        if (temporary !== undefined) await unlink(temporary).catch(() => {})
        throw writeError(error)
      }
      await syncFolder(folder)
    },

    writeSync(snapshot: StateSnapshot<S>): void {
      const text = serializeSnapshot(snapshot)
      createFolderForSync(name)
      let temporary: string | undefined
      try {
        const [opened, fd] = openTemporarySync()
        temporary = opened
        try {
          const bytes = Buffer.from(text)
          for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written, bytes.length - written)
          fdatasyncSync(fd)
        } finally {
          closeSync(fd)
        }
        renameSync(temporary, name)
      } catch (error) {
        try {
          if (temporary !== undefined) unlinkSync(temporary)
        } catch {
          // Already renamed.
        }
        throw writeError(error)
      }
      syncFolderSync(folder)
    },
  }
  if (initialState !== undefined) return { ...backend, initialState }
  return backend
}
