import { stat } from 'node:fs/promises'
import { shellQuote } from '../file/shell-quote.js'
import type { Command } from './command.js'
import { formatBytes, formatCount, plural } from './format.js'
import { inspectLog, problemsOf } from './log-lines.js'
import { assertFile } from './read-log.js'

/** Problems listed one by one; beyond this only their number is given. */
const listedProblems = 20

/** `check <log>`: validates every line; exit code 0 when sound. */
export const check: Command = {
  name: 'check',
  summary: 'validate a whole log file (JSON, indices, torn tail); exit code 0 when sound',
  usage: '<log>',
  positionals: ['log'],
  options: {},
  help: `Reads every line of <log> and checks that each is a JSON object, that the
indices run 0, 1, 2… without gaps or repeats, and that the file does not end in
an incomplete line. It keeps going after a problem, so it lists all of them
(file:line: what is wrong). It never changes the file and takes no lock.
While a writer is appending, the line being written may show as incomplete:
check a log its writer has stopped writing.

Exit code: 0 when the log is sound, 1 when it has problems (then
\`tiny-event-sourcing repair <log>\` can fix what is mechanical).

Example:
  tiny-event-sourcing check data/log.ndjson && echo sound`,

  async run({ positionals, out }) {
    const filename = positionals[0]!
    await assertFile(filename, 'an NDJSON log file')
    const health = await inspectLog(filename)
    const bytes = (await stat(filename)).size
    const problems = problemsOf(health)
    let text = ''
    for (const { line, problem } of problems.slice(0, listedProblems)) text += `${filename}:${line}: line ${line} ${problem}\n`
    if (problems.length > listedProblems) text += `… and ${formatCount(problems.length - listedProblems)} more problems\n`
    const range = health.events === 0 ? '' : ` (indices 0–${health.events - 1})`
    if (problems.length === 0) {
      text += `${filename}: sound, ${formatCount(health.events)} events${range}, ${formatBytes(bytes)}\n`
    } else {
      text += `${filename}: ${plural(problems.length, 'problem', 'problems')} in ${plural(health.lines, 'line', 'lines')}; ${health.events === 1 ? '1 line is an event' : `${formatCount(health.events)} lines are events`}\n`
      if (health.invalid.length > 0) {
        text += `Fix or delete the lines that are not events by hand, or let \`tiny-event-sourcing repair --drop-invalid ${shellQuote(filename)}\` move them to a side file.\n`
      }
      if (health.misnumbered.length > 0 || health.torn || health.byteOrderMark) {
        const fixes = new Intl.ListFormat('en').format(
          [
            health.byteOrderMark && 'removes the byte order mark',
            health.misnumbered.length > 0 && 'renumbers the events',
            health.torn && 'sets the incomplete line aside',
          ].filter((fix) => typeof fix === 'string'),
        )
        text += `\`tiny-event-sourcing repair ${shellQuote(filename)}\` ${fixes}, keeping a backup of the file.\n`
      }
    }
    if (health.blankLines > 0) text += `note: ${plural(health.blankLines, 'blank line', 'blank lines')}, which the log skips\n`
    if (health.lastEventUnterminated) text += 'note: the last event has no newline after it; the next writer to open the log adds it\n'
    await out.write(text)
    await out.flush()
    return problems.length === 0 ? 0 : 1
  },
}
