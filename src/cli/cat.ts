import { stringOption, UsageError, wholeNumberOption, type Command } from './command.js'
import { EventSelection, selectionHelp, selectionOptions } from './event-selection.js'
import { eventsStoredNow, openLogForReading, upcastHelp, upcastOption } from './read-log.js'
import { timeRangeHelp, timeRangeOptions } from './time-range.js'

/** `cat <log>`: the stored events as NDJSON, filtered by type, field value, index range, time and causation. */
export const cat: Command = {
  name: 'cat',
  summary: 'print the events of a log as NDJSON (filter by --type, --where, --from/--to, --since/--until, --caused-by)',
  usage: '<log> [--type T]... [--where F=V]... [--from N] [--to N] [--since TIME] [--until TIME] [--caused-by N] [--pretty] [--upcast <module>]',
  positionals: ['log'],
  options: {
    ...selectionOptions,
    from: { type: 'string' },
    to: { type: 'string' },
    ...timeRangeOptions,
    'caused-by': { type: 'string', short: 'c' },
    pretty: { type: 'boolean', short: 'p' },
    ...upcastOption,
  },
  help: `Prints the events stored in <log>, one JSON object a line, and ends.
The file is read as a follower reads it: no lock is taken and nothing is changed,
so it is safe while another process writes the log.

${selectionHelp}
      --from <N>         Start at index N (default 0)
      --to <N>           End at index N, included (default: the last event)
${timeRangeHelp}
  -c, --caused-by <N>    Event N and the chain of events it led to: those
                         appended with { causedBy: N }, those they caused, and so on
  -p, --pretty           Indented JSON, for reading rather than piping
${upcastHelp}

Examples:
  tiny-event-sourcing cat data/log.ndjson --type bookmark | jq -r .url
  tiny-event-sourcing cat data/log.ndjson --since 2h --where url=https://a.example
  tiny-event-sourcing cat data/log.ndjson --caused-by 41 --pretty`,

  async run({ values, positionals, out }) {
    const selection = new EventSelection(values)
    const from = wholeNumberOption(values, 'from') ?? 0
    const to = wholeNumberOption(values, 'to')
    if (to !== undefined && to < from) throw new UsageError(`--to ${to} is before --from ${from}; nothing would be printed`)
    const pretty = values.pretty === true
    const log = await openLogForReading(positionals[0]!, stringOption(values, 'upcast'))
    try {
      // A causation chain is followed from its first event on, even when printing starts later.
      // The library selects by type and field value; a causation chain must see every event, so it filters itself.
      const filter = selection.causedBy === undefined ? selection.filter : undefined
      for await (const event of eventsStoredNow(log, (selection.causedBy ?? from) - 1, to, filter)) {
        if (selection.isPastRange(event)) break
        if (!selection.accepts(event) || event.index < from) continue
        await out.write(`${pretty ? JSON.stringify(event, null, 2) : JSON.stringify(event)}\n`)
      }
      await out.flush()
    } finally {
      await log.close()
    }
    const note = selection.untimedNote('cat')
    if (note) process.stderr.write(note)
    return 0
  },
}
