import { LogReplacedError } from '../core/errors.js'
import { shellQuote } from '../file/shell-quote.js'
import { stringOption, UsageError, wholeNumberOption, type Command } from './command.js'
import { EventSelection, selectionHelp, selectionOptions } from './event-selection.js'
import { eventsStoredNow, openLogForReading, upcastHelp, upcastOption } from './read-log.js'
import { timeRangeHelp, timeRangeOptions } from './time-range.js'

/** `tail <log>`: the last events, then (with `--follow`) new ones as another process appends them. */
export const tail: Command = {
  name: 'tail',
  summary: 'print the last events of a log, and with --follow the new ones as they are appended',
  usage: '<log> [-n N] [-f | --follow] [--type T]... [--where F=V]... [--since TIME] [--until TIME] [--pretty] [--upcast <module>]',
  positionals: ['log'],
  options: {
    lines: { type: 'string', short: 'n' },
    follow: { type: 'boolean', short: 'f' },
    ...selectionOptions,
    ...timeRangeOptions,
    pretty: { type: 'boolean', short: 'p' },
    ...upcastOption,
  },
  help: `Prints the last N events of <log> as NDJSON. With --follow it keeps running and
prints each event another process appends, as soon as it is written, until it
is interrupted (Ctrl-C) or its output is closed; if the file is replaced (as
repair does) or truncated, it stops with exit code 1 and says so. It never
takes the log's lock and never changes the file.

With --type, --where, --since or --until, the last N events are the last N of
those selected (the whole log is read to find them), and --follow prints only
new events that are selected too.

  -n, --lines <N>        How many of the last events to print first (default 10)
  -f, --follow           Keep printing new events as they are appended
${selectionHelp}
${timeRangeHelp}
  -p, --pretty           Indented JSON
${upcastHelp}

Examples:
  tiny-event-sourcing tail data/log.ndjson -n 0 --follow | jq -c 'select(.type == "info")'
  tiny-event-sourcing tail data/log.ndjson --since 1h -n 100 --type info`,

  async run({ values, positionals, out }) {
    const count = wholeNumberOption(values, 'lines') ?? 10
    const pretty = values.pretty === true
    const selection = new EventSelection(values)
    if (values.follow === true && selection.range?.until !== undefined) {
      throw new UsageError('--until and --follow cannot go together: new events are appended after --until; use `cat --until` instead')
    }
    const selecting = selection.filter !== undefined || selection.range !== undefined
    const log = await openLogForReading(positionals[0]!, stringOption(values, 'upcast'))
    const print = (event: object) => out.write(`${pretty ? JSON.stringify(event, null, 2) : JSON.stringify(event)}\n`)
    try {
      const last = log.length - 1
      if (selecting) {
        // The last N selected events can be anywhere: keep the latest N while reading the log once.
        const kept: object[] = []
        for await (const event of eventsStoredNow(log, -1, last, selection.filter)) {
          if (selection.isPastRange(event)) break
          if (!selection.accepts(event) || count === 0) continue
          kept.push(event)
          if (kept.length >= 2 * count + 1024) kept.splice(0, kept.length - count)
        }
        for (const event of kept.slice(-count)) await print(event)
      } else {
        const after = Math.max(-1, last - count)
        for await (const event of eventsStoredNow(log, after, last)) await print(event)
      }
      await out.flush()
      const note = selection.untimedNote('tail')
      if (note) process.stderr.write(note)
      if (values.follow === true) {
        try {
          // Ends when standard output goes away; Ctrl-C ends the process as usual.
          for await (const event of log.events({ ...selection.filter, after: last, signal: out.gone })) {
            if (!selecting || selection.accepts(event)) await print(event)
            // Written as soon as the follower has caught up; in batches while it catches up. A filtered
            // follower cannot tell that the events after this one are not for it: each is written at once.
            if (selecting || event.index >= log.length - 1) await out.flush()
          }
        } catch (error) {
          // The library's remedy speaks to code; here the remedy is this very command.
          if (!(error instanceof LogReplacedError)) throw error
          const again = `run \`tiny-event-sourcing tail ${shellQuote(positionals[0]!)} --follow\` again to follow the new file`
          throw new Error(error.message.replace(/open it again with initLog\(.*$/, again), { cause: error })
        }
      }
    } finally {
      await log.close()
    }
    return 0
  },
}
