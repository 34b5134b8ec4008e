import { LogReplacedError } from '../core/errors.js'
import { shellQuote } from '../file/shell-quote.js'
import { stringOption, wholeNumberOption, type Command } from './command.js'
import { eventsStoredNow, openLogForReading, upcastHelp, upcastOption } from './read-log.js'

/** `tail <log>`: the last events, then (with `--follow`) new ones as another process appends them. */
export const tail: Command = {
  name: 'tail',
  summary: 'print the last events of a log, and with --follow the new ones as they are appended',
  usage: '<log> [-n N] [-f | --follow] [--pretty] [--upcast <module>]',
  positionals: ['log'],
  options: {
    lines: { type: 'string', short: 'n' },
    follow: { type: 'boolean', short: 'f' },
    pretty: { type: 'boolean', short: 'p' },
    ...upcastOption,
  },
  help: `Prints the last N events of <log> as NDJSON. With --follow it keeps running and
prints each event another process appends, as soon as it is written, until it
is interrupted (Ctrl-C) or its output is closed; if the file is replaced (as
repair does) or truncated, it stops with exit code 1 and says so. It never
takes the log's lock and never changes the file.

  -n, --lines <N>        How many of the last events to print first (default 10)
  -f, --follow           Keep printing new events as they are appended
  -p, --pretty           Indented JSON
${upcastHelp}

Example:
  tiny-event-sourcing tail data/log.ndjson -n 0 --follow | jq -c 'select(.type == "info")'`,

  async run({ values, positionals, out }) {
    const count = wholeNumberOption(values, 'lines') ?? 10
    const pretty = values.pretty === true
    const log = await openLogForReading(positionals[0]!, stringOption(values, 'upcast'))
    const print = (event: object) => out.write(`${pretty ? JSON.stringify(event, null, 2) : JSON.stringify(event)}\n`)
    try {
      const after = Math.max(-1, log.length - 1 - count)
      let last = after
      for await (const event of eventsStoredNow(log, after)) {
        await print(event)
        last = event.index
      }
      await out.flush()
      if (values.follow === true) {
        try {
          // Ends when standard output goes away; Ctrl-C ends the process as usual.
          for await (const event of log.events({ after: last, signal: out.gone })) {
            await print(event)
            // Written as soon as the follower has caught up; in batches while it catches up.
            if (event.index >= log.length - 1) await out.flush()
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
