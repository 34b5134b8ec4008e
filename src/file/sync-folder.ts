/**
 * Makes a rename durable: after a file is renamed into a folder, the folder
 * itself is flushed, or a power cut can undo the rename. Not every platform
 * can open or sync a folder (Windows cannot); there the rename is as durable
 * as the operating system makes it, and nothing fails.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs'
import { open } from 'node:fs/promises'

/** Flushes `folder`'s entries to disk, where the platform allows it. */
export async function syncFolder(folder: string): Promise<void> {
  try {
    const handle = await open(folder, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // Folders cannot be opened or synced on some platforms (Windows).
  }
}

/** `syncFolder`, synchronously, for `process.on('exit')`. */
export function syncFolderSync(folder: string): void {
  try {
    const fd = openSync(folder, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // Folders cannot be opened or synced on some platforms (Windows).
  }
}
