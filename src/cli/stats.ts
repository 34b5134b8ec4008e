import { stat } from 'node:fs/promises'
import { stringOption, type Command } from './command.js'
import { formatBytes, formatCount, plural, table } from './format.js'
import { ProgressBar } from './progress.js'
import { eventsStoredNow, openLogForReading, upcastHelp, upcastOption } from './read-log.js'

/** Nested objects are catalogued down to this depth (`payload.author.name` is depth 3). */
const maxDepth = 4
/** Field paths catalogued per type: objects used as maps (URLs as keys, say) would list every key. */
const maxFieldsPerType = 200
/** Beyond the catalogue, distinct paths are counted up to this many. */
const maxUncatalogued = 100_000
/** Example values longer than this are cut short. */
const exampleChars = 48
/** Logs with fewer events are read too quickly for a progress bar to help. */
const progressFromEvents = 100_000
/** What the catalogue calls events without a string `type`. */
const noType = '(no type)'

interface FieldSummary {
  /** How many events of the type have this field. */
  count: number
  /** JSON kinds seen: string, number, boolean, null, object, array. */
  kinds: Set<string>
  /** The first value seen that says something (not null, not an empty string). */
  example: unknown
}

interface TypeSummary {
  count: number
  fields: Map<string, FieldSummary>
  /** Distinct field paths seen beyond `maxFieldsPerType`, not catalogued. */
  uncatalogued: Set<string>
}

function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

function isInformative(value: unknown): boolean {
  return value !== null && value !== '' && kindOf(value) !== 'object'
}

/** Records every field of `value` under `prefix`, descending into nested objects. */
function catalogue(summary: TypeSummary, value: Record<string, unknown>, prefix: string, depth: number): void {
  const fields = summary.fields
  for (const [key, child] of Object.entries(value)) {
    if (depth === 1 && key === 'index') continue // every event has one
    const path = prefix + key
    let field = fields.get(path)
    if (field === undefined) {
      if (fields.size >= maxFieldsPerType) {
        // Only counted, and only up to a point, so memory stays bounded.
        if (summary.uncatalogued.size < maxUncatalogued) summary.uncatalogued.add(path)
        continue
      }
      field = { count: 0, kinds: new Set(), example: undefined }
      fields.set(path, field)
    }
    field.count++
    field.kinds.add(kindOf(child))
    if (field.example === undefined && isInformative(child)) field.example = child
    if (kindOf(child) === 'object' && depth < maxDepth) catalogue(summary, child as Record<string, unknown>, `${path}.`, depth + 1)
  }
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
JSON kinds and an example value. Fields no read model uses yet are dormant data
you can start using by replaying the log.

For logs of 100,000 events or more, a progress bar is drawn on standard error
when it is a terminal.

      --json             Print the same figures as one JSON object
${upcastHelp}

Example:
  tiny-event-sourcing stats data/log.ndjson`,

  async run({ values, positionals, out }) {
    const filename = positionals[0]!
    const log = await openLogForReading(filename, stringOption(values, 'upcast'))
    const types = new Map<string, TypeSummary>()
    const total = log.length
    const progress = new ProgressBar(process.stderr, total, 'events', progressFromEvents)
    try {
      for await (const event of eventsStoredNow(log)) {
        const type = typeof event.type === 'string' ? event.type : noType
        let summary = types.get(type)
        if (summary === undefined) {
          summary = { count: 0, fields: new Map(), uncatalogued: new Set() }
          types.set(type, summary)
        }
        summary.count++
        catalogue(summary, event, '', 1)
        progress.update(event.index + 1)
      }
    } finally {
      progress.clear()
      await log.close()
    }
    const bytes = (await stat(filename)).size
    const byCount = [...types.entries()].sort(([a, x], [b, y]) => y.count - x.count || a.localeCompare(b))

    if (values.json === true) {
      const report = {
        log: filename,
        events: total,
        bytes,
        types: Object.fromEntries(
          byCount.map(([type, summary]) => [
            type,
            {
              events: summary.count,
              uncataloguedFields: summary.uncatalogued.size,
              fields: Object.fromEntries(
                [...summary.fields].map(([path, field]) => [path, { events: field.count, kinds: [...field.kinds], example: field.example ?? null }]),
              ),
            },
          ]),
        ),
      }
      await out.write(`${JSON.stringify(report, null, 2)}\n`)
      await out.flush()
      return 0
    }

    let text = `${filename}: ${plural(total, 'event', 'events')}, ${formatBytes(bytes)}`
    text += total === 0 ? '\n' : `, indices 0–${total - 1}, ${formatBytes(Math.round(bytes / total))} an event on average\n`
    if (total > 0) {
      text += `\n${table(
        ['type', 'events', 'share'],
        byCount.map(([type, summary]) => [type, formatCount(summary.count), percent(summary.count, total)]),
        [false, true, true],
      )}`
    }
    for (const [type, summary] of byCount) {
      text += `\n${type} (${plural(summary.count, 'event', 'events')})\n`
      const rows = [...summary.fields].map(([path, field]) => [
        `  ${path}`,
        formatCount(field.count),
        percent(field.count, summary.count),
        [...field.kinds].join('|'),
        formatExample(field.example),
      ])
      text += table(['  field', 'events', 'share', 'kinds', 'example'], rows, [false, true, true, false, false])
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
