/**
 * Whether the process a file names still runs: the judgement behind taking
 * over a lock and removing the temporary files a killed process left behind.
 * Only meaningful for a pid of this host.
 */

/** Linux never gives pids above 2^22, other systems stay within 32 bits; `process.kill` refuses anything larger. */
const maxPid = 2 ** 31 - 1

/**
 * True unless no process with this pid exists on this host. A process of
 * another user counts as alive (`EPERM`): it exists, we just may not signal
 * it. A number no process can have (0, negative, fractional, too large) is
 * not alive: `process.kill` would signal a process group or throw instead.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid > maxPid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // Only "no such process" proves it gone; anything else leaves it be.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}
