/**
 * Whether a child process stays up or ends by itself: the keep-alive rule
 * (a follower's process is kept alive only while an iterator waits for
 * events) checked the same way for every storage.
 */
import type { Child } from './child.js'

/** How a child ended by itself, or `'running'` if it was still up after `ms` milliseconds (it is left running). */
export async function exitWithin(child: Child, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'running'> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const stillRunning = new Promise<'running'>((resolve) => (timer = setTimeout(() => resolve('running'), ms)))
  try {
    return await Promise.race([child.exited, stillRunning])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The text of a child script (for `startChild`) that opens a log with
 * `openLog` (an expression over `argv`, e.g. `initLog({ filename: argv[0],
 * readOnly: true })`) and, with `iterate`, waits in `events()` until an event
 * of type `'stop'` arrives, printing `seen <index>` for each event; then it
 * returns from its top level without `close()`, so the process ends only if
 * nothing keeps it alive. It prints `opened` once the log is open and
 * `iterating` once its iterator waits.
 */
export function followerScript({ imports, openLog, iterate }: { imports: string; openLog: string; iterate: boolean }): string {
  return `${imports}
const argv = process.argv.slice(2)
const log = await ${openLog}
console.log('opened')
${
  iterate
    ? `const events = log.events()
const first = events.next()
console.log('iterating')
for (let step = await first; !step.done; step = await events.next()) {
  console.log('seen ' + step.value.index)
  if (step.value.type === 'stop') break
}
await events.return()
console.log('stopped')`
    : ''
}
`
}
