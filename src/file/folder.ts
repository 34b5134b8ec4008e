/**
 * Creates the folder a file goes into. When that fails, Node's error names
 * only the whole path it tried; this one names the file it was for, says
 * what is in the way (a file where a folder should be, missing permission),
 * and what to do about it. The same for a file this user may not read; and
 * `explainedError`, the shape every such explanation takes.
 */
import { mkdirSync, statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { FileAccessError } from '../core/errors.js'

/** Creates `filename`'s folder and any missing parents. */
export async function createFolderFor(filename: string): Promise<void> {
  try {
    await mkdir(dirname(filename), { recursive: true })
  } catch (error) {
    throw folderError('create the folder for', filename, error)
  }
}

/** `createFolderFor`, synchronously. */
export function createFolderForSync(filename: string): void {
  try {
    mkdirSync(dirname(filename), { recursive: true })
  } catch (error) {
    throw folderError('create the folder for', filename, error)
  }
}

/**
 * This library's explanation of a failed file-system call: a
 * `FileAccessError` (code `FILE_ACCESS`) whose `cause` is Node's error and
 * whose `systemCode` is Node's code, so callers can still branch on it.
 */
export function explainedError(message: string, error: unknown): FileAccessError {
  return new FileAccessError(message, error)
}

/** The nearest folder or file on the way to `path` that exists, if any. */
function nearestExisting(path: string): { path: string; isFolder: boolean } | undefined {
  for (let part = path; ; part = dirname(part)) {
    try {
      // Only after a failure, so looking synchronously costs nothing in normal use and serves both variants.
      const stats = statSync(part)
      return { path: part, isFolder: stats.isDirectory() }
    } catch {
      // Not there (ENOENT), or below a file (ENOTDIR): look one level up.
    }
    if (dirname(part) === part) return undefined
  }
}

/**
 * The error for a failure to create or reach `filename`'s folder, e.g.
 * `cannot ${action} ${filename}: … is a file, not a folder; …`. The original
 * error is its `cause`, and its `code` is kept.
 */
export function folderError(action: string, filename: string, error: unknown): Error {
  const { code, message } = error as NodeJS.ErrnoException
  const existing = nearestExisting(dirname(filename))
  let problem: string
  if ((code === 'ENOTDIR' || code === 'EEXIST') && existing && !existing.isFolder) {
    problem = `${existing.path} is a file, not a folder; choose another filename, or move that file out of the way`
  } else if ((code === 'EACCES' || code === 'EPERM') && existing) {
    problem = `permission denied; choose another filename, or give this user write access to ${existing.path}`
  } else {
    problem = `${message}; choose another filename, or fix the folder`
  }
  return explainedError(`cannot ${action} ${filename}: ${problem}`, error)
}

/** The error for `filename` this user may not read: Node's names the path, but not what to do. */
export function readDeniedError(action: string, filename: string, error: unknown): Error {
  return explainedError(`cannot ${action} ${filename}: permission denied; give this user read access to it`, error)
}
