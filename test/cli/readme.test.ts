/**
 * The command line sessions of docs/cli.md and docs/upcasting.md are real:
 * each `$ npx tiny-event-sourcing …` shown there is run on the same files and must print what the page shows
 * (times aside).
 */
import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { fsStoreBackend, initLog, initStateStore } from '../../src/index.js'
import { bin, finished, removeTempDirs, start, stdoutLines, stopStarted, tempDir } from './run.js'

/** The command line page, then the upcasting page (its `--upcast` session): every console session of the docs. */
const pages = {
  cli: await readFile(new URL('../../docs/cli.md', import.meta.url), 'utf8'),
  upcasting: await readFile(new URL('../../docs/upcasting.md', import.meta.url), 'utf8'),
}
/** Every console session of those pages: commands and the output after each, and the page it is on. */
const sessions = Object.entries(pages).flatMap(([page, text]) =>
  [...text.matchAll(/```console\n(.*?)```/gs)].map((match) => {
    const steps: { command: string; output: string }[] = []
    for (const line of match[1]!.split('\n')) {
      if (line.startsWith('$ ')) steps.push({ command: line.slice(2), output: '' })
      else if (line !== '' || steps.at(-1)!.output !== '') steps.at(-1)!.output += `${line}\n`
    }
    for (const step of steps) step.output = step.output.replace(/\n+$/, '\n').replace(/^\n$/, '')
    return Object.assign(steps, { page })
  }),
)

/** The bookmark service's files as docs/cli.md describes them. */
async function bookmarkService(dir: string, metadata: boolean): Promise<Buffer> {
  // The command line page shows _meta as the log writes it (times are compared as <time>); the upcasting page, lines without it.
  const log = await initLog({ filename: join(dir, 'data', 'log.ndjson'), metadata })
  const first = await log.append({ type: 'bookmark', url: 'https://example.com' })
  await log.append(
    { type: 'info', url: 'https://example.com', title: 'Example Domain', faviconUrl: 'https://example.com/favicon.ico' },
    metadata ? { causedBy: first } : {},
  )
  const second = await log.append({ type: 'bookmark', url: 'https://nodejs.org', tags: ['js', 'runtime'] })
  await log.append({ type: 'info', url: 'https://nodejs.org', title: 'Node.js', faviconUrl: null }, metadata ? { causedBy: second } : {})
  await log.append({ type: 'bookmark', url: 'https://jqlang.org' })
  await log.close()
  const store = await initStateStore({ storeBackend: fsStoreBackend(join(dir, 'data', 'read-model.json'), { byUrl: {} }) })
  store.update(
    {
      byUrl: {
        'https://example.com': { url: 'https://example.com', title: 'Example Domain', faviconUrl: 'https://example.com/favicon.ico' },
        'https://nodejs.org': { url: 'https://nodejs.org', title: 'Node.js', faviconUrl: null },
      },
    },
    3,
  )
  await store.close()
  return readFile(join(dir, 'data', 'log.ndjson'))
}

/** Times differ from run to run, and so do the port and token of `inspect`. */
function withoutTimes(text: string): string {
  return text
    .replace(/\d{4}-\d\d-\d\dT\d\d[-:]\d\d[-:]\d\d[-.]\d{3}Z/g, '<time>')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, '<moment>')
    .replace(/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}/g, '127.0.0.1:<port>/?token=<token>')
}

/** Runs a documented command line in `dir`: the bin for `npx tiny-event-sourcing`, and `jq -r .url` done in Node so the test needs no jq. */
async function shell(command: string, dir: string): Promise<{ code: number | null; stdout: string }> {
  const script = command
    .replace(/^npx tiny-event-sourcing /, `"${process.execPath}" "${bin}" `)
    .replace(
      / \| jq -r \.url$/,
      ` | "${process.execPath}" -e "require('readline').createInterface({ input: process.stdin }).on('line', (l) => console.log(JSON.parse(l).url))"`,
    )
  expect(script, `a documented command this test does not know how to run: ${command}`).toMatch(/^"/)
  const result = await finished(spawn('bash', ['-o', 'pipefail', '-c', script], { cwd: dir }))
  return { code: result.code, stdout: result.stdout + result.stderr }
}

afterAll(removeTempDirs)

describe('the documented command line sessions', () => {
  afterEach(stopStarted)

  it('has the sessions this test knows', () => {
    expect(sessions.map((steps) => steps.map((step) => step.command.split(' ').slice(0, 3).join(' ')))).toEqual([
      ['npx tiny-event-sourcing cat', 'npx tiny-event-sourcing cat'],
      ['npx tiny-event-sourcing cat', 'npx tiny-event-sourcing cat'],
      ['npx tiny-event-sourcing tail'],
      ['npx tiny-event-sourcing stats'],
      ['npx tiny-event-sourcing check', 'echo $?', 'npx tiny-event-sourcing repair'],
      ['npx tiny-event-sourcing state'],
      ['cat read-model.mjs', 'npx tiny-event-sourcing try', 'npx tiny-event-sourcing try'],
      ['npx tiny-event-sourcing inspect'],
      ['cat upcast.mjs', 'npx tiny-event-sourcing cat'],
    ])
  })

  it.each(sessions.map((steps, n) => [n, steps[0]!.command, steps] as const))('session %i: %s', async (_n, _first, steps) => {
    const dir = await tempDir()
    const logFile = join(dir, 'data', 'log.ndjson')
    const original = await bookmarkService(dir, steps.page === 'cli')
    let lastCode: number | null = null
    for (const { command, output } of steps) {
      if (command === 'echo $?') {
        expect(`${lastCode}\n`).toBe(output)
      } else if (command.startsWith('cat ')) {
        // The page shows the module's text: that is the module.
        await writeFile(join(dir, command.slice(4)), output)
      } else if (command.includes(' inspect ')) {
        // The page's server runs until stopped: what it prints first is what the page shows.
        const server = start(command.replace(/^npx tiny-event-sourcing /, '').split(' '), { cwd: dir })
        try {
          const expected = output.trimEnd().split('\n')
          expect((await stdoutLines(server).until(expected.length)).map(withoutTimes)).toEqual(expected.map(withoutTimes))
        } finally {
          server.kill('SIGTERM')
        }
      } else if (command.includes('--follow')) {
        // The documented follower sees the service append one more event.
        const args = command.replace(/^npx tiny-event-sourcing /, '').split(' ')
        const follower = start(args, { cwd: dir })
        try {
          const lines = stdoutLines(follower)
          const expected = output.trimEnd().split('\n')
          await lines.until(expected.length - 1)
          const log = await initLog({ filename: logFile, metadata: steps.page === 'cli' })
          await log.append({ type: 'info', url: 'https://jqlang.org', title: 'jq', faviconUrl: null })
          await log.close()
          expect((await lines.until(expected.length)).map(withoutTimes)).toEqual(expected.map(withoutTimes))
        } finally {
          follower.kill('SIGTERM')
        }
      } else {
        if (command.includes(' check ')) {
          // "Say line 2 was deleted by hand and a crash cut the last append short."
          const lines = original.toString('utf8').trimEnd().split('\n')
          lines.splice(1, 1)
          await writeFile(logFile, `${lines.join('\n')}\n{"type":"bookmark","url":"https://exa`)
        }
        const result = await shell(command, dir)
        lastCode = result.code
        expect(withoutTimes(result.stdout)).toBe(withoutTimes(output))
      }
    }
  })
})
