import { dirname } from 'node:path'
import { findLogIn } from './data-folder.js'
import { stringOption, UsageError, type Command } from './command.js'
import { formatCount, plural } from './format.js'
import { formatDifference, jsonDiff, type Difference } from './json-diff.js'
import { loadReducer, replayLog, type Until } from './replay.js'
import { openLogForReading } from './read-log.js'
import { readStateFile, summarizeState } from './state.js'
import { parseMoment } from './time-range.js'

/** A state whose indented JSON is longer than this many lines is summarised unless --json is given. */
const printedLines = 60
/** Differences listed one by one; beyond this only their number is given. */
const listedDifferences = 200

function untilOption(text: string | undefined): Until | undefined {
  if (text === undefined) return undefined
  if (/^\d+$/.test(text)) return { index: Number(text) }
  try {
    return { at: parseMoment(text, 'until') }
  } catch {
    throw new UsageError(`--until expects an index (a whole number) or a time (2026-12-01T21:30Z, or 1h/2d ago); got '${text}'`)
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
    const reducer = await loadReducer(modulePath)
    const stored = againstFile === undefined ? undefined : await readStateFile(againstFile)
    if (stored !== undefined && until === undefined) until = { index: stored._version }

    const log = await openLogForReading(filename, undefined)
    let replay: Awaited<ReturnType<typeof replayLog>>
    try {
      replay = await replayLog(log, reducer, filename, until)
    } finally {
      await log.close()
    }
    const { state: kept, count, last } = replay

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

function summaryOf(differences: Difference[]): string {
  const count = (kind: Difference['kind']) => differences.filter((difference) => difference.kind === kind).length
  return `${plural(differences.length, 'difference', 'differences')}: ${formatCount(count('added'))} added, ${formatCount(count('removed'))} removed, ${formatCount(count('changed'))} changed.`
}
