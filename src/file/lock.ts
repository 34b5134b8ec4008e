import { readFileSync, readlinkSync, unlinkSync } from 'node:fs'
import { link, readFile, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { explainedError } from './folder.js'
import { LogLockedError } from '../core/errors.js'
import { isNotCapable, isProcessAlive, processState, removeLeftovers } from './process-alive.js'

/** What a lock file says about the process holding it. */
interface LockOwner {
  pid: number
  hostname: string
  /** Linux only. */
  pidNamespace?: string
  /** Set when the runtime would not let the owner read its pid namespace (Deno without `--allow-all`), so the lock names why it has none. */
  pidNamespaceDenied?: true
  since: string
}

/**
 * This process's pid namespace on Linux (`pid:[4026531836]`), undefined
 * elsewhere. Containers can share a hostname (those of a Kubernetes pod do)
 * and a folder, each with its own pids: a pid from another namespace says
 * nothing about which process runs here, so its lock cannot be judged stale.
 */
let pidNamespaceDenied = false
const pidNamespace = (() => {
  try {
    return readlinkSync('/proc/self/ns/pid')
  } catch (error) {
    // Deno lets a program read /proc/self only with --allow-all, whatever --allow-read says.
    pidNamespaceDenied = isNotCapable(error)
    return undefined
  }
})()

/** What Deno needs to read this process's pid namespace, and to ask whether a lock's process still runs. */
const denoReadNamespace = 'run Deno with --allow-all (-A), the only permission with which it lets a program read /proc/self/ns/pid'
const denoCheckProcess = 'run Deno with --allow-run'

/** Whether `owner`'s pid means a process of this host and pid namespace, which `process.kill` can look for. */
function isLocal(owner: LockOwner): boolean {
  return owner.hostname === hostname() && owner.pidNamespace === pidNamespace
}

/** Lock files this process holds, with their exact text; removed on exit even without `close()`, so a clean exit leaves none behind. */
const heldLocks = new Map<string, string>()
let exitHookInstalled = false
/** How many times a stale or vanishing lock is retried before giving up, waiting this long while another process takes it over. */
const maxAttempts = 200
const takeoverWaitMs = 5

function removeHeldLocksOnExit(): void {
  for (const [lockFile, text] of heldLocks) {
    try {
      // Only our own lock: if it was deleted and taken by another process, it is theirs.
      if (readFileSync(lockFile, 'utf8') === text) unlinkSync(lockFile)
    } catch {
      // Already gone: nothing to release.
    }
  }
}

async function readText(lockFile: string): Promise<string | undefined> {
  try {
    return await readFile(lockFile, 'utf8')
  } catch {
    return undefined // vanished or unreadable
  }
}

/**
 * The text of a lock that stands in the way: `undefined` once it is released.
 * One this user may not read is another user's, held or not; taking it for a
 * released one would only retry until giving up with the wrong reason.
 */
async function readBlockingLock(lockFile: string, logFile: string): Promise<string | undefined> {
  try {
    return await readFile(lockFile, 'utf8')
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException
    if (code === 'ENOENT') return undefined
    if (code !== 'EACCES' && code !== 'EPERM') throw error
    throw explainedError(
      `cannot open ${logFile} for writing: permission denied reading its lock ${lockFile}, which another user's process may hold; ` +
        'open the log as that user, or give this user read access to the lock',
      error,
    )
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(text) as Partial<LockOwner>
    if (typeof owner.pid === 'number' && typeof owner.hostname === 'string' && ['string', 'undefined'].includes(typeof owner.pidNamespace)) {
      return owner as LockOwner
    }
  } catch {
    // Not a lock we wrote: treated as no owner.
  }
  return undefined
}

/**
 * A lock's owner counts as alive unless it is on this host, in this pid
 * namespace, and its process is gone (killed, crashed), or it names this
 * process but dates from before this process started: a process restarted
 * after a kill can get the same pid again, and its lock must not read as
 * this process's own.
 */
function isAlive(owner: LockOwner): boolean {
  if (!isLocal(owner)) return true
  if (owner.pid === process.pid) return !(Date.parse(owner.since) < performance.timeOrigin)
  return isProcessAlive(owner.pid)
}

/** Why a lock of this host cannot be judged here, if it cannot: another pid namespace, or permissions a Deno process lacks. */
function unjudgeable(owner: LockOwner): string {
  if (owner.hostname !== hostname()) return ''
  if (isLocal(owner)) {
    return processState(owner.pid) === 'not-permitted' ? ` (this Deno process may not ask whether it still runs: ${denoCheckProcess})` : ''
  }
  if (pidNamespace === undefined && pidNamespaceDenied) {
    return ` (in a pid namespace this Deno process may not compare with its own: ${denoReadNamespace})`
  }
  if (owner.pidNamespace === undefined) {
    return owner.pidNamespaceDenied
      ? ` (its lock records no pid namespace: Deno wrote it without the permission to read one; ${denoReadNamespace})`
      : ' (its lock records no pid namespace: an earlier version of tiny-event-sourcing, or no /proc, wrote it)'
  }
  return ' (in another pid namespace: another container?)'
}

function lockedError(lockFile: string, logFile: string, owner: LockOwner): LogLockedError {
  const who =
    owner.pid === process.pid && isLocal(owner)
      ? `this process (pid ${owner.pid}) already has it open; close() that log first or share it`
      : `process ${owner.pid} on ${owner.hostname}${unjudgeable(owner)} ` +
        `has held it since ${owner.since}; stop that process, ` +
        `open this one with { readOnly: true } to follow it, or delete ${lockFile} if you are sure that process is gone`
  return new LogLockedError(lockFile, `cannot open ${logFile} for writing: ${who}`)
}

/**
 * Removes a lock judged stale. Several processes may judge it stale at once,
 * so removal is guarded by `<lock>.takeover`, created atomically: only its
 * holder removes the lock, and only if it is still the stale one (once one
 * process has taken over, the others find its live lock instead).
 * `draft` is a file holding this process's owner record.
 */
async function removeStaleLock(lockFile: string, staleText: string, draft: string): Promise<void> {
  const guard = `${lockFile}.takeover`
  try {
    await link(draft, guard)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    // Someone else is taking over; if it died doing so, clear its guard.
    const guardText = await readText(guard)
    const guardOwner = guardText === undefined ? undefined : parseOwner(guardText)
    if (guardOwner && !isAlive(guardOwner) && (await readText(guard)) === guardText) await unlink(guard).catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, takeoverWaitMs))
    return
  }
  try {
    if ((await readText(lockFile)) === staleText) await unlink(lockFile).catch(() => {})
  } finally {
    await unlink(guard).catch(() => {})
  }
}

/**
 * Removes the drafts (`<lock>.<pid>.<random>`) of processes killed while
 * taking the lock. A draft is judged by the owner record inside it, which
 * must name the pid in its name and this host; an empty one (killed while
 * writing it) by its name alone. Anything else is left, as are drafts of live
 * processes. Best effort: what cannot be listed or removed stays.
 */
function removeLeftoverDrafts(lockFile: string): Promise<void> {
  return removeLeftovers(`${lockFile}.`, /^([1-9]\d*)\.[0-9a-z]+$/, async (draft, [, name]) => {
    const pid = Number(name)
    const text = await readText(draft)
    if (text === undefined) return false
    const owner = text === '' ? { pid, hostname: hostname(), pidNamespace, since: '' } : parseOwner(text)
    // Not alive means local too: another host's or container's owner always counts as alive.
    return owner !== undefined && owner.pid === pid && !isAlive(owner)
  })
}

/**
 * Takes the writer's lock on a log file: `<log>.lock`, holding the owner's pid
 * and host. A lock whose process no longer exists (killed with SIGKILL, say)
 * is taken over, and drafts such processes left beside it are removed.
 * Resolves with a function that releases the lock.
 */
export async function acquireFileLock(lockFile: string, logFile: string): Promise<() => Promise<void>> {
  const owner: LockOwner = {
    pid: process.pid,
    hostname: hostname(),
    pidNamespace,
    ...(pidNamespaceDenied && { pidNamespaceDenied: true }),
    since: new Date().toISOString(),
  }
  const text = `${JSON.stringify(owner)}\n`
  // Written aside and hard-linked into place, so nobody can read a half-written lock.
  const draft = `${lockFile}.${process.pid}.${Math.random().toString(36).slice(2)}`
  await writeFile(draft, text)
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await link(draft, lockFile)
        break
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      const held = await readBlockingLock(lockFile, logFile) // undefined: released meanwhile, try again
      const holder = held === undefined ? undefined : parseOwner(held)
      // Ours for sure, whatever the clock did since: never taken over.
      if (holder && (heldLocks.get(lockFile) === held || isAlive(holder))) throw lockedError(lockFile, logFile, holder)
      if (attempt === maxAttempts) {
        throw new LogLockedError(
          lockFile,
          `cannot open ${logFile} for writing: the lock ${lockFile} names no live process but could not be taken over; delete it by hand`,
        )
      }
      if (held !== undefined) await removeStaleLock(lockFile, held, draft)
    }
  } finally {
    await unlink(draft).catch(() => {})
  }
  heldLocks.set(lockFile, text)
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', removeHeldLocksOnExit)
  }
  // Only the holder tidies up, so takers racing for the lock do not race for this too.
  await removeLeftoverDrafts(lockFile)
  return async () => {
    if (!heldLocks.delete(lockFile)) return
    if ((await readText(lockFile)) === text) await unlink(lockFile).catch(() => {})
  }
}
