import { listOption, stringOption, UsageError, wholeNumberOption, type Command } from './command.js'
import { eventsStoredNow, openLogForReading, upcastHelp, upcastOption } from './read-log.js'

/** `cat <log>`: the stored events as NDJSON, filtered by type and index range. */
export const cat: Command = {
  name: 'cat',
  summary: 'print the events of a log as NDJSON (filter by --type, --from, --to)',
  usage: '<log> [--type T]... [--from N] [--to N] [--pretty] [--upcast <module>]',
  positionals: ['log'],
  options: {
    type: { type: 'string', short: 't', multiple: true },
    from: { type: 'string' },
    to: { type: 'string' },
    pretty: { type: 'boolean', short: 'p' },
    ...upcastOption,
  },
  help: `Prints the events stored in <log>, one JSON object a line, and ends.
The file is read as a follower reads it: no lock is taken and nothing is changed,
so it is safe while another process writes the log.

  -t, --type <T>         Only events whose "type" is T (repeat for several types)
      --from <N>         Start at index N (default 0)
      --to <N>           End at index N, included (default: the last event)
  -p, --pretty           Indented JSON, for reading rather than piping
${upcastHelp}

Examples:
  tiny-event-sourcing cat data/log.ndjson --type bookmark | jq -r .url
  tiny-event-sourcing cat data/log.ndjson --from 100 --to 120 --pretty`,

  async run({ values, positionals, out }) {
    const types = new Set(listOption(values, 'type'))
    const from = wholeNumberOption(values, 'from') ?? 0
    const to = wholeNumberOption(values, 'to')
    if (to !== undefined && to < from) throw new UsageError(`--to ${to} is before --from ${from}; nothing would be printed`)
    const pretty = values.pretty === true
    const log = await openLogForReading(positionals[0]!, stringOption(values, 'upcast'))
    try {
      for await (const event of eventsStoredNow(log, from - 1, to)) {
        if (types.size > 0 && !types.has(event.type as string)) continue
        await out.write(`${pretty ? JSON.stringify(event, null, 2) : JSON.stringify(event)}\n`)
      }
      await out.flush()
    } finally {
      await log.close()
    }
    return 0
  },
}
