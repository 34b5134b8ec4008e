import { dirname } from 'node:path'
import type { Indexed } from '../index.js'
import { findLogIn } from './data-folder.js'
import { stringOption, UsageError, type Command } from './command.js'
import { formatCount, plural } from './format.js'
import { formatDifference, jsonDiff, type Difference } from './json-diff.js'
import { loadModule } from './load-module.js'
import { eventsStoredNow, openLogForReading } from './read-log.js'
import { readStateFile, summarizeState } from './state.js'
import { eventTime, parseMoment } from './time-range.js'

type StoredEvent = Indexed<Record<string, unknown>>
type Reduce = (state: unknown, event: StoredEvent) => unknown

/** A state whose indented JSON is longer than this many lines is summarised unless --json is given. */
const printedLines = 60
/** Differences listed one by one; beyond this only their number is given. */
const listedDifferences = 200

/** Where replaying stops: at an index, or at the last event appended at or before a time. */
type Until = { index: number } | { at: number }

function untilOption(text: string | undefined): Until | undefined {
  if (text === undefined) return undefined
  if (/^\d+$/.test(text)) return { index: Number(text) }
  try {
    return { at: parseMoment(text, 'until') }
  } catch {
    throw new UsageError(`--until expects an index (a whole number) or a time (2026-12-01T21:30Z, or 1h/2d ago); got '${text}'`)
  }
}

/** A reducer module: `reduce` and `initialState` as named exports, or on its default export. */
async function loadReducer(modulePath: string): Promise<{ reduce: Reduce; initialState: unknown; upcast?: (event: StoredEvent) => object }> {
  const loaded = await loadModule(modulePath, 'try', 'a module exporting reduce and initialState')
  const source = (typeof loaded.reduce === 'function' ? loaded : loaded.default) as Record<string, unknown> | undefined
  if (typeof source?.reduce !== 'function' || !('initialState' in source)) {
    throw new UsageError(
      `${modulePath} must export reduce and initialState: export const initialState = { … }; export function reduce(state, event) { …; return state }`,
    )
  }
  return {
    reduce: source.reduce as Reduce,
    // A fresh copy, so a reducer that changes its state in place leaves the module's own object as it was.
    initialState: structuredClone(source.initialState),
    ...(typeof source.upcast === 'function' ? { upcast: source.upcast as (event: StoredEvent) => object } : {}),
  }
}

/** The log to replay: `--log`, else the one beside `--against`, else `data/log.ndjson`. */
async function logFile(values: Record<string, unknown>): Promise<string> {
  const given = values.log === undefined ? undefined : String(values.log)
  if (given !== undefined) return given
  const against = values.against === undefined ? undefined : String(values.against)
  const found = await findLogIn(against === undefined ? 'data' : dirname(against)).catch((error) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  })
  if (found === undefined) throw new UsageError(`no log found ${against === undefined ? 'in data/' : `beside ${against}`}; give it with --log FILE`)
  return found
}

/** What was replayed, for the report's first line. */
function replayed(count: number, last: number, log: string, modulePath: string): string {
  if (count === 0) return `No event of ${log} was replayed: the state is ${modulePath}'s initialState. Nothing was written.\n`
  return `Replayed ${plural(count, 'event', 'events')} (0–${last}) of ${log} through ${modulePath}. Nothing was written.\n`
}

/** `try <module>`: a reducer replayed over a log in memory, its state printed or compared with a stored read model. */
export const tryCommand: Command = {
  name: 'try',
  summary: "replay a log through a reducer module in memory and print the state, or its difference from a read model's",
  usage: '<module> [--log FILE] [--until INDEX|TIME] [--against STATE_FILE] [--json]',
  positionals: ['module'],
  options: {
    log: { type: 'string', short: 'l' },
    until: { type: 'string' },
    against: { type: 'string', short: 'a' },
    json: { type: 'boolean' },
  },
  help: `Loads <module>, which exports reduce(state, event) and initialState (and, if it
likes, an upcast function), replays the log through it in memory, and prints the
resulting state: all of it when it is small, else its shape (--json prints all).
Nothing is written: not the log, not a state file. This is how to check a new
or changed read model before bumping its project() version.

With --against, compares the new state with a stored read model's state and
prints what the new reducer would add (+), remove (-) and change (~), one line
per value that differs. It replays the events the stored state reflects (up to
its version), unless --until says otherwise.

A reducer that throws is reported with the index and type of the event that
made it throw (exit code 1). TypeScript modules load where Node strips types
(22.18 or later); on older Node compile them to JavaScript first.

  -l, --log <FILE>       The log to replay (default: the .ndjson log beside
                         --against's file, else data/log.ndjson)
      --until <N|TIME>   Stop after index N, or after the last event appended at
                         or before TIME (an ISO time, or 1h/2d ago)
  -a, --against <FILE>   A state file ({ "_version": N, "state": … }) to compare with
      --json             Print the whole state (or, with --against, the
                         differences) as JSON

Examples:
  tiny-event-sourcing try read-model.mjs --log data/log.ndjson --until 2h
  tiny-event-sourcing try read-model.mjs --against data/read-model.json`,

  async run({ values, positionals, out }) {
    const modulePath = positionals[0]!
    let until = untilOption(stringOption(values, 'until'))
    const againstFile = stringOption(values, 'against')
    const filename = await logFile(values)
    const { reduce, initialState, upcast } = await loadReducer(modulePath)
    const stored = againstFile === undefined ? undefined : await readStateFile(againstFile)
    if (stored !== undefined && until === undefined) until = { index: stored._version }

    const log = await openLogForReading(filename, undefined)
    let state = initialState
    let count = 0
    let last = -1
    try {
      const lastIndex = until !== undefined && 'index' in until ? until.index : undefined
      for await (const stored of eventsStoredNow(log, -1, lastIndex)) {
        if (until !== undefined && 'at' in until) {
          const at = eventTime(stored)
          if (at !== undefined && at > until.at) break
        }
        const event = upcast === undefined ? stored : ({ ...upcast(stored), index: stored.index, _meta: stored._meta } as StoredEvent)
        try {
          state = reduce(state, event)
        } catch (error) {
          const type = typeof event.type === 'string' ? `type ${JSON.stringify(event.type)}` : 'no type'
          const message = error instanceof Error ? withoutOwnFrames(error.stack ?? error.message) : String(error)
          throw new Error(`reduce threw at event ${event.index} (${type}) of ${filename}; nothing was written:\n${message}`, { cause: error })
        }
        if (state === undefined) {
          throw new Error(`reduce returned undefined for event ${event.index} of ${filename}; return state itself to ignore an event`)
        }
        count++
        last = event.index
      }
    } finally {
      await log.close()
    }
    // What a state store would keep: the state as JSON.
    const kept: unknown = JSON.parse(JSON.stringify(state) ?? 'null')

    if (stored === undefined) {
      const text = JSON.stringify(kept, null, 2)
      if (values.json === true) await out.write(`${text}\n`)
      else {
        let report = replayed(count, last, filename, modulePath)
        const lines = text.split('\n').length
        report += lines <= printedLines ? `${text}\n` : `${summarizeState(kept)}(${formatCount(lines)} lines as JSON: --json prints it all)\n`
        await out.write(report)
      }
      await out.flush()
      return 0
    }

    const differences = jsonDiff(stored.state, kept)
    if (values.json === true) {
      await out.write(
        `${JSON.stringify({ replayed: { events: count, last }, against: { file: againstFile, version: stored._version }, differences }, null, 2)}\n`,
      )
      await out.flush()
      return 0
    }
    let report = replayed(count, last, filename, modulePath)
    if (last !== stored._version) {
      report += `Note: ${againstFile} reflects events up to ${stored._version}, the replay up to ${last}: events on one side only show as differences too.\n`
    }
    report += `Compared with ${againstFile} (version ${stored._version}):\n`
    if (differences.length === 0) report += 'No difference: the new reducer builds the same state.\n'
    else {
      for (const difference of differences.slice(0, listedDifferences)) report += `${formatDifference(difference)}\n`
      if (differences.length > listedDifferences) report += `… and ${formatCount(differences.length - listedDifferences)} more (--json lists them all)\n`
      report += `${summaryOf(differences)}\n`
    }
    await out.write(report)
    await out.flush()
    return 0
  },
}

/** A stack trace down to the reducer's own frames: those of this command say nothing to its user. */
function withoutOwnFrames(stack: string): string {
  const own = new URL(import.meta.url).pathname
  return stack
    .split('\n')
    .filter((line) => !line.includes(own))
    .join('\n')
}

function summaryOf(differences: Difference[]): string {
  const count = (kind: Difference['kind']) => differences.filter((difference) => difference.kind === kind).length
  return `${plural(differences.length, 'difference', 'differences')}: ${formatCount(count('added'))} added, ${formatCount(count('removed'))} removed, ${formatCount(count('changed'))} changed.`
}
