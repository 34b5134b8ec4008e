import type { ParseArgsConfig } from 'node:util'
import type { Output } from './output.js'

/** Parsed option values, as `node:util` `parseArgs` returns them. */
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>

/** What a command gets to run with. */
export interface CommandInput {
  /** Option values, already checked against the command's `options`. */
  values: OptionValues
  /** Positional arguments, as many as the command's `positionals` names. */
  positionals: string[]
  /** Standard output, safe to close early (`| head`). */
  out: Output
}

/**
 * One subcommand of `tiny-event-sourcing`. Adding a command is writing one of
 * these and listing it in the table in `src/cli.ts`.
 */
export interface Command {
  /** What users type: `tiny-event-sourcing <name> …`. */
  name: string
  /** One line for the list of commands. */
  summary: string
  /** Names of the required positional arguments, e.g. `['log']`. */
  positionals: string[]
  /** Names of positional arguments that may follow the required ones, or be left out. */
  optionalPositionals?: string[]
  /** Its options, in `parseArgs` form (`--help` is added to every command). */
  options: NonNullable<ParseArgsConfig['options']>
  /** The text of `<name> --help` after the usage line: what it does, its options, an example. */
  help: string
  /** Usage line after the command name, e.g. `<log> [-n N] [--follow]`. */
  usage: string
  /** Runs the command; resolves with the exit code. */
  run(input: CommandInput): Promise<number>
}

/** Bad arguments: the runner prints the message with the command's usage and exits with 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** A whole number (0 or more) given to `--name`, or `undefined` when the option is absent. */
export function wholeNumberOption(values: OptionValues, name: string): number | undefined {
  const raw = values[name]
  if (raw === undefined) return undefined
  const text = String(raw)
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(value)) throw new UsageError(`--${name} expects a whole number of 0 or more, got '${text}'`)
  return value
}

/** The values of a repeatable string option (`--type a --type b`). */
export function listOption(values: OptionValues, name: string): string[] {
  const raw = values[name]
  if (raw === undefined) return []
  return (Array.isArray(raw) ? raw : [raw]).map(String)
}

/** A string option's value, or `undefined` when absent. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const raw = values[name]
  return raw === undefined ? undefined : String(raw)
}
