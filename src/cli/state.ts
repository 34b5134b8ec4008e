import { stat } from 'node:fs/promises'
import { fsStoreBackend } from '../file/state-backend.js'
import type { StateSnapshot } from '../core/state-store-backend.js'
import { CorruptStateError } from '../core/errors.js'
import { shellQuote } from '../file/shell-quote.js'
import { stringOption, type Command } from './command.js'
import { formatBytes, formatCount, plural, table } from './format.js'
import { readLines } from './log-lines.js'
import { assertFile, openLogForReading } from './read-log.js'

/** Keys of the state listed one by one; beyond this only their number is given. */
const listedKeys = 30
const valueChars = 60

/** A value in a few words: `an object with 3 keys`, `an array of 2 items`, or the value itself, cut short. */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return `an array of ${plural(value.length, 'item', 'items')}`
  if (typeof value === 'object') {
    const keys = Object.keys(value).length
    return `an object with ${plural(keys, 'key', 'keys')}`
  }
  const text = JSON.stringify(value)
  return text.length > valueChars ? `${text.slice(0, valueChars - 1)}…` : text
}

/**
 * Reads a state file as a state store reads it, with the same checks and
 * errors, except that a log given by mistake is named as such: the store's
 * advice for a corrupt state file (delete it) must not be given for a log.
 */
export async function readStateFile(filename: string): Promise<StateSnapshot<unknown>> {
  try {
    return (await fsStoreBackend(filename).read())!
  } catch (error) {
    if (error instanceof CorruptStateError && (await startsLikeALog(filename))) {
      throw new Error(
        `${filename} looks like an event log (its first line is an event with an "index"), not a state file { "_version": N, "state": … }; ` +
          `the file was left as it is. To look inside the log, run \`tiny-event-sourcing cat ${shellQuote(filename)}\` (or \`stats\` or \`check\` instead of \`cat\`)`,
        { cause: error },
      )
    }
    throw error
  }
}

async function startsLikeALog(filename: string): Promise<boolean> {
  for await (const line of readLines(filename)) {
    try {
      const first: unknown = JSON.parse(line.bytes.toString('utf8'))
      return typeof first === 'object' && first !== null && Number.isInteger((first as { index?: unknown }).index)
    } catch {
      return false
    }
  }
  return false
}

/** The shape of a state: what it is, and its top-level keys with what each holds. */
export function summarizeState(value: unknown): string {
  let text = `state: ${describe(value)}\n`
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value)
    const rows = entries.slice(0, listedKeys).map(([key, child]) => [`  ${key}`, describe(child)])
    if (rows.length > 0) text += table(['  key', 'holds'], rows, [false, false])
    if (entries.length > listedKeys) text += `  … and ${formatCount(entries.length - listedKeys)} more keys\n`
  }
  return text
}

/** `state <file>`: a state envelope's version and a summary of its state. */
export const state: Command = {
  name: 'state',
  summary: "show a state file's version and a summary of its state (--log: how far behind it is)",
  usage: '<file> [--log <log>] [--full]',
  positionals: ['file'],
  options: {
    log: { type: 'string', short: 'l' },
    full: { type: 'boolean' },
  },
  help: `Reads a read model's state file, the envelope { "_version": N, "state": … },
and prints its version (the index of the last event it reflects) and the shape
of its state: the top-level keys and what each holds.

  -l, --log <log>        Also say how many events of that log the state has not seen yet
      --full             Print the whole state as indented JSON instead of a summary

Example:
  tiny-event-sourcing state data/read-model.json --log data/log.ndjson`,

  async run({ values, positionals, out }) {
    const filename = positionals[0]!
    await assertFile(filename, 'a state file ({ "_version": N, "state": … })')
    const { _version: version, state: value, _projection: projection } = await readStateFile(filename)
    if (values.full === true) {
      await out.write(`${JSON.stringify(value, null, 2)}\n`)
      await out.flush()
      return 0
    }
    const info = await stat(filename)
    let text = `${filename}: version ${version}, ${formatBytes(info.size)}, written ${info.mtime.toISOString()}\n`
    if (projection !== undefined) text += `Built by version ${JSON.stringify(projection)} of its projection (project({ version })).\n`
    text += version < 0 ? 'No event processed yet.\n' : `The state reflects events 0–${version} of its log.\n`
    const logFile = stringOption(values, 'log')
    if (logFile !== undefined) {
      const log = await openLogForReading(logFile, undefined)
      const length = log.length
      await log.close()
      const behind = length - 1 - version
      text +=
        behind > 0
          ? `${logFile} holds ${plural(length, 'event', 'events')}: the state is ${plural(behind, 'event', 'events')} behind (its projection catches up when it next runs).\n`
          : behind === 0
            ? `${logFile} holds ${plural(length, 'event', 'events')}: the state is up to date.\n`
            : `${logFile} holds only ${formatCount(length)} events, but the state reflects events up to ${version}: it was built from another log, or the log was cut short.\n`
    }
    text += summarizeState(value)
    await out.write(text)
    await out.flush()
    return 0
  },
}
