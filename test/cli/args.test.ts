import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { removeTempDirs, run, tempDir, writeLog } from './run.js'

const commands = ['cat', 'tail', 'stats', 'check', 'repair', 'state', 'import', 'export']

afterAll(removeTempDirs)

describe('tiny-event-sourcing arguments', () => {
  it('lists the commands with --help, and on stderr with exit code 2 when given none', async () => {
    const help = await run(['--help'])
    expect(help).toMatchObject({ code: 0, stderr: '' })
    expect(help.stdout).toMatch(/^Usage: tiny-event-sourcing <command> \[options\]/)
    for (const name of commands) expect(help.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'))
    const none = await run([])
    expect(none).toMatchObject({ code: 2, stdout: '', stderr: help.stdout })
  })

  it.each(commands)('explains %s with --help, -h and help <command>', async (name) => {
    const help = await run([name, '--help'])
    expect(help).toMatchObject({ code: 0, stderr: '' })
    expect(help.stdout).toMatch(new RegExp(`^Usage: tiny-event-sourcing ${name} <(log|file)>`))
    expect(help.stdout).toContain('Example')
    expect((await run([name, '-h'])).stdout).toBe(help.stdout)
    expect((await run(['help', name])).stdout).toBe(help.stdout)
  })

  it('prints the package version', async () => {
    const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'))
    expect(await run(['--version'])).toMatchObject({ code: 0, stdout: `${manifest.version}\n` })
  })

  it('says what was expected when arguments are wrong, with exit code 2', async () => {
    const filename = join(await tempDir(), 'log.ndjson')
    await writeLog(filename, [{ type: 'a' }])
    const cases: [string[], string][] = [
      [
        ['frobnicate'],
        "tiny-event-sourcing: unknown command 'frobnicate'; the commands are cat, tail, stats, check, repair, state, try, inspect, import, export.",
      ],
      [['cat'], 'tiny-event-sourcing cat: missing <log>'],
      [['cat', filename, 'extra'], `tiny-event-sourcing cat: unexpected argument 'extra' (cat takes <log>)`],
      [['cat', filename, '--bogus'], "tiny-event-sourcing cat: Unknown option '--bogus'"],
      [['cat', filename, '--from'], "tiny-event-sourcing cat: Option '--from <value>' argument missing"],
      [['cat', filename, '--from', 'ten'], "tiny-event-sourcing cat: --from expects a whole number of 0 or more, got 'ten'"],
      [['cat', filename, '--from', '5', '--to', '2'], 'tiny-event-sourcing cat: --to 2 is before --from 5; nothing would be printed'],
      [['tail', filename, '-n', '-3'], "tiny-event-sourcing tail: Option '-n' argument is ambiguous"],
      [['tail', filename, '-n', '2.5'], "tiny-event-sourcing tail: --lines expects a whole number of 0 or more, got '2.5'"],
      [['state'], 'tiny-event-sourcing state: missing <file>'],
    ]
    for (const [args, message] of cases) {
      const result = await run(args)
      expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 2, stdout: '' })
      expect(result.stderr.split('\n')[0]).toContain(message)
    }
    // What parseArgs adds about values that start with '-' is left out: no value here does.
    expect((await run(['tail', filename, '-n', '-3'])).stderr).not.toContain('To specify')
    expect((await run(['cat', filename, '--bogus'])).stderr).not.toContain('To specify')
    const usage = await run(['cat'])
    expect(usage.stderr).toContain('Usage: tiny-event-sourcing cat <log> [--type T]...')
    expect(usage.stderr).toContain('See `tiny-event-sourcing cat --help`.')
  })

  it('says which file is missing, with exit code 1', async () => {
    const missing = join(await tempDir(), 'nope.ndjson')
    for (const name of ['cat', 'tail', 'stats', 'check', 'repair']) {
      const result = await run([name, missing])
      expect(result.code).toBe(1)
      expect(result.stderr).toBe(`tiny-event-sourcing ${name}: ${missing}: no such file; give the path of an NDJSON log file\n`)
    }
    const state = await run(['state', missing])
    expect(state.stderr).toContain(`${missing}: no such file; give the path of a state file`)
    const folder = await run(['cat', join(missing, '..')])
    expect(folder.stderr).toContain('is not a file; give the path of an NDJSON log file')
  })
})
