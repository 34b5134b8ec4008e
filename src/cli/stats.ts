import { stat } from 'node:fs/promises'
import { catalogueJson, FieldCatalogue, maxUncatalogued, type Sighting } from './catalogue.js'
import { stringOption, type Command } from './command.js'
import { formatBytes, formatCount, plural, table } from './format.js'
import { ProgressBar } from './progress.js'
import { eventsStoredNow, openLogForReading, upcastHelp, upcastOption } from './read-log.js'
import { formatMoment } from './time-range.js'

/** Example values longer than this are cut short. */
const exampleChars = 48
/** Logs with fewer events are read too quickly for a progress bar to help. */
const progressFromEvents = 100_000

/** When something was seen: its time (UTC, to the second), or `#index` for an event stored without a time. */
function formatSighting(seen: Sighting): string {
  return seen.at === undefined ? `#${seen.index}` : formatMoment(seen.at)
}

function formatExample(value: unknown): string {
  if (value === undefined) return ''
  const text = JSON.stringify(value)
  return text.length > exampleChars ? `${text.slice(0, exampleChars - 1)}…` : text
}

function percent(part: number, whole: number): string {
  const value = (100 * part) / whole
  return value === 100 || value === 0 ? `${value}%` : value >= 99.5 ? '>99%' : value < 1 ? '<1%' : `${Math.round(value)}%`
}

/** `stats <log>`: counts per type and the field catalogue, the data a read model could start using. */
export const stats: Command = {
  name: 'stats',
  summary: 'count events per type and list the fields each type carries (the field catalogue)',
  usage: '<log> [--json] [--upcast <module>]',
  positionals: ['log'],
  options: {
    json: { type: 'boolean' },
    ...upcastOption,
  },
  help: `Reads the whole of <log> and prints how many events and bytes it holds, how many
events of each type, and for each type the field catalogue: every field that
appears (nested fields as payload.url), in how many of its events, with which
JSON kinds and an example value, and when it was first and last seen: the
history of the data model. Fields no read model uses yet are dormant data you
can start using by replaying the log.

Times are those the log recorded (UTC); events stored without a time (by
0.2.x, or with metadata: false) are shown by their index instead, as #N.

For logs of 100,000 events or more, a progress bar is drawn on standard error
when it is a terminal.

      --json             Print the same figures as one JSON object
${upcastHelp}

Example:
  tiny-event-sourcing stats data/log.ndjson`,

  async run({ values, positionals, out }) {
    const filename = positionals[0]!
    const log = await openLogForReading(filename, stringOption(values, 'upcast'))
    const catalogue = new FieldCatalogue()
    const total = log.length
    const progress = new ProgressBar(process.stderr, total, 'events', progressFromEvents)
    try {
      for await (const event of eventsStoredNow(log)) {
        catalogue.add(event)
        progress.update(event.index + 1)
      }
    } finally {
      progress.clear()
      await log.close()
    }
    const bytes = (await stat(filename)).size
    const byCount = catalogue.byCount()

    if (values.json === true) {
      const report = {
        log: filename,
        events: total,
        bytes,
        untimedEvents: catalogue.untimed,
        types: catalogueJson(catalogue),
      }
      await out.write(`${JSON.stringify(report, null, 2)}\n`)
      await out.flush()
      return 0
    }

    let text = `${filename}: ${plural(total, 'event', 'events')}, ${formatBytes(bytes)}`
    text += total === 0 ? '\n' : `, indices 0–${total - 1}, ${formatBytes(Math.round(bytes / total))} an event on average\n`
    if (catalogue.untimed > 0) {
      text +=
        catalogue.untimed === total
          ? 'No event has a time (written by 0.2.x or with metadata: false): first and last seen give indices, as #N.\n'
          : `Events without a time (${formatCount(catalogue.untimed)} of them, written by 0.2.x or with metadata: false) are given by index, as #N, where first or last seen.\n`
    }
    if (total > 0) {
      text += `\n${table(
        ['type', 'events', 'share', 'first seen', 'last seen'],
        byCount.map(([type, summary]) => [
          type,
          formatCount(summary.count),
          percent(summary.count, total),
          formatSighting(summary.first),
          formatSighting(summary.last),
        ]),
        [false, true, true, false, false],
      )}`
    }
    for (const [type, summary] of byCount) {
      text += `\n${type} (${plural(summary.count, 'event', 'events')})\n`
      const rows = [...summary.fields].map(([path, field]) => [
        `  ${path}`,
        formatCount(field.count),
        percent(field.count, summary.count),
        [...field.kinds].join('|'),
        formatSighting(field.first),
        formatSighting(field.last),
        formatExample(field.example),
      ])
      text += table(['  field', 'events', 'share', 'kinds', 'first seen', 'last seen', 'example'], rows, [false, true, true, false, false, false, false])
      if (summary.uncatalogued.size > 0) {
        const more = `${summary.uncatalogued.size >= maxUncatalogued ? 'at least ' : ''}${formatCount(summary.uncatalogued.size)}`
        text += `  … and ${more} more field paths, not listed: an object used as a map (ids or URLs as keys) lists every key\n`
      }
    }
    await out.write(text)
    await out.flush()
    return 0
  },
}
