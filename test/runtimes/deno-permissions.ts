/**
 * The Deno permissions a program using the library needs, as docs/runtimes.md
 * gives them: files; the host name, written into the log's lock; and run, to
 * ask whether the process that left a lock still lives. The flow runs on Deno
 * with exactly these, and the docs test checks the page shows them.
 */
export const denoPermissions = ['--allow-read', '--allow-write', '--allow-sys=hostname', '--allow-run']
