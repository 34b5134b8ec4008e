import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const tempDirs: string[] = []

/** A fresh folder under the system's temporary folder, named `tes-<name>-…`, removed by `removeTempDirs()`. */
export async function tempDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `tes-${name}-`))
  tempDirs.push(dir)
  return dir
}

/** Removes the folders `tempDir` made (for `afterAll`). */
export async function removeTempDirs(): Promise<void> {
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
}
