/**
 * Whether a child process stays up or ends by itself: the keep-alive rule
 * (a follower's process is kept alive only while an iterator waits for
 * events) checked the same way for every storage.
 */
import { expect } from 'vitest'
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

/** Longer than any storage's safety poll: a process still up after it is kept up by something. */
export const longerThanAPoll = 3000
/** How long a process may take to end by itself on a loaded machine. */
export const generously = 30_000

/**
 * Checks, on a child running `followerScript({ iterate: true })`, that it
 * stays up while its iterator waits, sees each of `writer`'s appends, and ends
 * by itself once a `'stop'` event ends the iteration.
 */
export async function expectUpWhileIterating(child: Child, writer: { append(event: { type: string }): Promise<unknown> }): Promise<void> {
  expect(await child.nextLine()).toBe('opened')
  expect(await child.nextLine()).toBe('iterating')
  expect(await child.nextLine()).toBe('seen 0')
  expect(await exitWithin(child, longerThanAPoll)).toBe('running')
  await writer.append({ type: 'second' })
  expect(await child.nextLine()).toBe('seen 1')
  expect(await exitWithin(child, longerThanAPoll)).toBe('running')
  await writer.append({ type: 'stop' })
  expect(await child.nextLine()).toBe('seen 2')
  expect(await child.nextLine()).toBe('stopped')
  expect(await exitWithin(child, generously)).toEqual({ code: 0, signal: null })
}
