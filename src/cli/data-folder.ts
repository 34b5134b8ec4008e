/** A service's data folder: its log (an `.ndjson` file) and the state files of its read models beside it. */
import { open, readdir, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { UsageError } from './command.js'

/** The log in `folder`: `log.ndjson` if there is one, else the only `.ndjson` file; `undefined` when there is none. */
export async function findLogIn(folder: string): Promise<string | undefined> {
  const logs = (await readdir(folder)).filter((name) => name.endsWith('.ndjson')).sort()
  if (logs.includes('log.ndjson')) return join(folder, 'log.ndjson')
  if (logs.length > 1) throw new UsageError(`${folder} holds several logs (${logs.join(', ')}); give the one to use`)
  return logs[0] === undefined ? undefined : join(folder, logs[0])
}

/** Whether `filename` starts like a state envelope `{ "_version": N, …`, read from its first bytes only. */
async function looksLikeStateFile(filename: string): Promise<boolean> {
  const file = await open(filename, 'r')
  try {
    const buffer = Buffer.alloc(64)
    const { bytesRead } = await file.read(buffer, 0, buffer.length, 0)
    return /^\s*\{\s*"_version"\s*:/.test(buffer.subarray(0, bytesRead).toString('utf8'))
  } finally {
    await file.close()
  }
}

/** The state files in `folder`: `.json` files that hold a state envelope (temporary files of a write in progress left out). */
export async function findStateFiles(folder: string): Promise<string[]> {
  const found: string[] = []
  for (const name of (await readdir(folder)).sort()) {
    if (!name.endsWith('.json')) continue
    const filename = join(folder, name)
    try {
      if ((await stat(filename)).isFile() && (await looksLikeStateFile(filename))) found.push(filename)
    } catch {
      // Gone or unreadable meanwhile: not one to show.
    }
  }
  return found
}

/** `data/log.ndjson` → `log.ndjson`, for headings. */
export const shortName = (filename: string): string => basename(filename)
