/**
 * Whether the process a file names still runs, and removing the files of
 * those that don't: the judgement behind taking over a log's lock and
 * tidying up what a process killed mid-write left (temporary state files,
 * lock drafts). Only meaningful for pids of this host.
 */
import { readdir, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/**
 * How old a file must be (by its last change) before it may count as left
 * behind. Temporary files and lock drafts live for milliseconds, so one this
 * old is no write in progress, even if its pid is judged wrongly (a pid from
 * another pid namespace: a container sharing the folder).
 */
const leftoverMinAgeMs = 60_000

/** Linux never gives pids above 2^22, other systems stay within 32 bits; `process.kill` refuses anything larger. */
const maxPid = 2 ** 31 - 1

/**
 * What this program can learn about a pid: `'alive'`, `'gone'`, or
 * `'not-permitted'` when the runtime does not let it ask (Deno without
 * `--allow-run`). A process of another user counts as alive (`EPERM`): it
 * exists, we just may not signal it. A number no process can have (0,
 * negative, fractional, too large) is gone: `process.kill` would signal a
 * process group or throw instead.
 */
export function processState(pid: number): 'alive' | 'gone' | 'not-permitted' {
  if (!Number.isInteger(pid) || pid <= 0 || pid > maxPid) return 'gone'
  try {
    process.kill(pid, 0)
    return 'alive'
  } catch (error) {
    if (isNotCapable(error)) return 'not-permitted'
    // Only "no such process" proves it gone; anything else leaves it be.
    return (error as NodeJS.ErrnoException).code === 'ESRCH' ? 'gone' : 'alive'
  }
}

/** True unless no process with this pid exists on this host; one this program may not ask about counts as alive. */
export function isProcessAlive(pid: number): boolean {
  return processState(pid) !== 'gone'
}

/**
 * Whether `error` is Deno's refusal of an operation its permissions do not
 * allow: a `Deno.errors.NotCapable`, which has no `code`, only its name.
 */
export function isNotCapable(error: unknown): boolean {
  return error instanceof Error && error.name === 'NotCapable'
}

/**
 * Removes the files named `prefix` + a suffix matching `pattern` (`prefix` is
 * a path: the files are in its folder), unchanged for a minute, that
 * `isLeftover` judges left behind (given the file's last change, in ms);
 * every other file stays. Best effort: what cannot be listed, judged or
 * removed is left, and nothing is thrown.
 */
export async function removeLeftovers(
  prefix: string,
  pattern: RegExp,
  isLeftover: (file: string, match: RegExpExecArray, changedMs: number) => boolean | Promise<boolean>,
): Promise<void> {
  const folder = dirname(prefix)
  const start = basename(prefix)
  let entries: string[]
  try {
    entries = await readdir(folder)
  } catch {
    return // no folder yet, or not readable: the caller's own reading says what is wrong
  }
  await Promise.all(
    entries.map(async (entry) => {
      const match = entry.startsWith(start) ? pattern.exec(entry.slice(start.length)) : null
      if (match === null) return
      const file = join(folder, entry)
      try {
        const changedMs = (await stat(file)).mtimeMs
        if (changedMs > Date.now() - leftoverMinAgeMs) return
        if (await isLeftover(file, match, changedMs)) await unlink(file)
      } catch {
        // Gone already, or not ours to remove.
      }
    }),
  )
}
