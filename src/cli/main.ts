#!/usr/bin/env node
/**
 * The `tiny-event-sourcing` command: look inside logs and state files, and
 * move logs between files and PostgreSQL.
 * Each subcommand is one module under `cli/`; to add one, list it below.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { cat } from './cat.js'
import { check } from './check.js'
import { UsageError, type Command } from './command.js'
import { Output, OutputClosedError } from './output.js'
import { inspect } from './inspect.js'
import { exportCommand, importCommand } from './postgres.js'
import { repair } from './repair.js'
import { state } from './state.js'
import { stats } from './stats.js'
import { tail } from './tail.js'
import { tryCommand } from './try.js'

const program = 'tiny-event-sourcing'

/** Every subcommand, in the order `--help` lists them. */
const commands: readonly Command[] = [cat, tail, stats, check, repair, state, tryCommand, inspect, importCommand, exportCommand]

function generalHelp(): string {
  const width = Math.max(...commands.map((command) => command.name.length))
  return `Usage: ${program} <command> [options]

Look inside an event log and the state files of its read models,
or move a log between a file and PostgreSQL.

Commands:
${commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n')}

Run \`${program} <command> --help\` for a command's options.
Options: -h, --help (this text), -v, --version.
`
}

function commandHelp(command: Command): string {
  return `Usage: ${program} ${command.name} ${command.usage}\n\n${command.help}\n`
}

function version(): string {
  // dist/cli.js sits next to the package's package.json, one folder up.
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return `${manifest.version}\n`
}

function parseCommandLine(command: Command, args: string[]) {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    })
  } catch (error) {
    // parseArgs goes on to explain how to pass values that start with '-', which none of ours do: what comes before is what matters.
    throw new UsageError((error as Error).message.replace(/\.?\s+(To specify|This command).*$/s, ''))
  }
  if (parsed.values.help === true) return { help: true as const }
  const expected = command.positionals
  if (parsed.positionals.length < expected.length) {
    throw new UsageError(
      `missing ${expected
        .slice(parsed.positionals.length)
        .map((name) => `<${name}>`)
        .join(' ')}`,
    )
  }
  const optional = command.optionalPositionals ?? []
  if (parsed.positionals.length > expected.length + optional.length) {
    const takes = [...expected.map((name) => `<${name}>`), ...optional.map((name) => `[${name}]`)].join(' ')
    throw new UsageError(`unexpected argument '${parsed.positionals[expected.length + optional.length]}' (${command.name} takes ${takes})`)
  }
  return { help: false as const, values: parsed.values, positionals: parsed.positionals }
}

/** Runs the command line `args` (without `node` and the script) and resolves with the exit code. */
async function main(args: string[]): Promise<number> {
  const out = new Output(process.stdout)
  const [name, ...rest] = args
  if (name === undefined) {
    process.stderr.write(generalHelp())
    return 2
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = commands.find((command) => command.name === rest[0])
    await out.write(topic ? commandHelp(topic) : generalHelp())
    await out.flush().catch(() => {})
    return 0
  }
  if (name === '--version' || name === '-v') {
    await out.write(version())
    await out.flush().catch(() => {})
    return 0
  }
  const command = commands.find((candidate) => candidate.name === name)
  if (command === undefined) {
    process.stderr.write(`${program}: unknown command '${name}'; the commands are ${commands.map((c) => c.name).join(', ')}. See \`${program} --help\`.\n`)
    return 2
  }
  try {
    const parsed = parseCommandLine(command, rest)
    if (parsed.help) {
      await out.write(commandHelp(command))
      await out.flush()
      return 0
    }
    const code = await command.run({ values: parsed.values, positionals: parsed.positionals, out })
    await out.flush()
    if (out.failure) throw out.failure
    return code
  } catch (error) {
    if (error instanceof OutputClosedError && out.closedByReader) return 0 // `| head` had enough
    await out.flush().catch(() => {}) // what was printed before the failure is still worth seeing
    if (error instanceof UsageError) {
      process.stderr.write(
        `${program} ${command.name}: ${error.message}\nUsage: ${program} ${command.name} ${command.usage}\nSee \`${program} ${command.name} --help\`.\n`,
      )
      return 2
    }
    const failure = error instanceof OutputClosedError ? (error.cause as Error) : (error as Error)
    const message = failure instanceof Error ? failure.message : String(failure)
    process.stderr.write(`${program} ${command.name}: ${message.replace(/^tiny-event-sourcing: /, '')}\n`)
    return 1
  }
}

process.exitCode = await main(process.argv.slice(2))
