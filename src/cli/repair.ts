import { constants } from 'node:fs'
import { copyFile, open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { serializeEvent, withIndex } from '../core/serialize.js'
import { acquireFileLock } from '../file/lock.js'
import { syncFolder } from '../file/sync-folder.js'
import type { Command } from './command.js'
import { formatCount, plural } from './format.js'
import { inspectLog, scanLog, type LogHealth } from './log-lines.js'
import { assertFile } from './read-log.js'

const listedLines = 10

function lineList(lines: number[]): string {
  const shown = lines.slice(0, listedLines).join(', ')
  return lines.length > listedLines ? `${shown} and ${formatCount(lines.length - listedLines)} more` : shown
}

/** One change a repair makes, worded for `--dry-run` ("would renumber …") and for the report ("renumbered …"). */
interface Step {
  verb: string
  done: string
  what: string
}

/** What a repair changes, in the order it is reported. */
function plan(health: LogHealth, dropped: string): Step[] {
  const steps: Step[] = []
  if (health.renumberCount > 0) {
    const first = health.misnumbered[0]
    const where = first ? ` (numbering first broke on line ${first.line}, which ${first.problem})` : ''
    steps.push({
      verb: 'renumber',
      done: 'renumbered',
      what: `${plural(health.renumberCount, 'event', 'events')} to run 0–${health.events - 1}${where}`,
    })
  }
  if (health.invalid.length > 0) {
    const count = health.invalid.length
    const lines = count === 1 ? 'the line that is not an event' : `${formatCount(count)} lines that are not events`
    steps.push({ verb: 'move', done: 'moved', what: `${lines} (${lineList(health.invalid.map((p) => p.line))}) to ${dropped}` })
  }
  if (health.torn) {
    steps.push({
      verb: 'set aside',
      done: 'set aside',
      what: `the incomplete last line ${health.torn.line} (${plural(health.torn.bytes, 'byte', 'bytes')}); it stays in the backup`,
    })
  }
  if (health.byteOrderMark) steps.push({ verb: 'remove', done: 'removed', what: 'the byte order mark (BOM) at the start of the file' })
  if (health.blankLines > 0) steps.push({ verb: 'remove', done: 'removed', what: plural(health.blankLines, 'blank line', 'blank lines') })
  if (health.lastEventUnterminated) steps.push({ verb: 'add', done: 'added', what: 'the missing newline after the last event' })
  return steps
}

async function writeAllText(file: FileHandle, text: string): Promise<void> {
  if (text !== '') await file.writeFile(text)
}

/**
 * A renumbered event's line as the log writes it: its fields, then its
 * `_meta` as stored (the log's own, which an event given to append may not
 * have), then the new index.
 */
function storedLine(event: Record<string, unknown>, index: number): string {
  const { _meta: meta, index: _oldIndex, ...fields } = event
  const record = serializeEvent(fields)
  const withMeta =
    meta === undefined ? record : record.length === 2 ? `{"_meta":${JSON.stringify(meta)}}` : `${record.slice(0, -1)},"_meta":${JSON.stringify(meta)}}`
  return withIndex(withMeta, index)
}

/**
 * Writes the mended log to `target`: sound lines byte for byte, renumbered
 * events re-serialized as the log writes them, blank lines and a torn tail
 * left out, lines that are not events copied to `droppedFile`.
 */
async function writeRepaired(filename: string, target: string, droppedFile: string | undefined): Promise<void> {
  const output = await open(target, 'wx')
  const dropped = droppedFile === undefined ? undefined : await open(droppedFile, 'wx')
  try {
    let text = ''
    let droppedText: Buffer[] = []
    for await (const scanned of scanLog(filename)) {
      if (scanned.kind === 'event') {
        text +=
          scanned.storedIndex === scanned.position && scanned.line.terminated
            ? `${scanned.line.bytes.toString('utf8')}\n`
            : `${storedLine(scanned.event, scanned.position)}\n`
      } else if (scanned.kind === 'invalid') {
        droppedText.push(scanned.line.bytes, Buffer.from('\n'))
      }
      if (text.length >= 1024 * 1024) {
        await writeAllText(output, text)
        text = ''
      }
      if (dropped && droppedText.length >= 1024) {
        await dropped.writeFile(Buffer.concat(droppedText))
        droppedText = []
      }
    }
    await writeAllText(output, text)
    await output.datasync()
    if (dropped) {
      await dropped.writeFile(Buffer.concat(droppedText))
      await dropped.datasync()
    }
  } finally {
    await output.close()
    await dropped?.close()
  }
}

/** `repair <log>`: renumbers, sets a torn tail aside, keeps a backup, says what it did. */
export const repair: Command = {
  name: 'repair',
  summary: 'renumber indices and set a torn tail aside, keeping a backup of the original',
  usage: '<log> [--dry-run] [--drop-invalid]',
  positionals: ['log'],
  options: {
    'dry-run': { type: 'boolean' },
    'drop-invalid': { type: 'boolean' },
  },
  help: `Mends what \`check\` finds and a machine can fix, then says what it did:
  - renumbers the events 0, 1, 2… in file order (after lines were deleted,
    moved or pasted by hand; renumbered lines are re-serialized, others are
    kept byte for byte)
  - sets aside an incomplete last line left by a crash
  - removes blank lines and adds a missing final newline
The original file is kept next to it as <log>.backup-<time>. The log's lock is
held meanwhile: stop the processes that write or follow the log first.

Lines that are not events (not JSON, not objects) are yours to decide: repair
refuses to run while there are any, unless --drop-invalid moves them to
<log>.dropped-<time>.

      --dry-run          Say what would be done, change nothing
      --drop-invalid     Move lines that are not events to a side file

Example:
  tiny-event-sourcing repair data/log.ndjson --dry-run`,

  async run({ values, positionals, out }) {
    const filename = resolve(positionals[0]!)
    const shown = positionals[0]!
    await assertFile(filename, 'an NDJSON log file')
    const releaseLock = await acquireFileLock(`${filename}.lock`, filename)
    try {
      const health = await inspectLog(filename)
      const stamp = new Date().toISOString().replace(/[:.]/g, '-')
      const backup = `${shown}.backup-${stamp}`
      const dropped = `${shown}.dropped-${stamp}`
      const steps = plan(health, dropped)
      if (steps.length === 0) {
        const numbered = health.events === 0 ? 'no events' : `${plural(health.events, 'event', 'events')} numbered 0–${health.events - 1}`
        await out.write(`${shown}: nothing to repair, ${numbered} and no damage found; the file was not changed\n`)
        await out.flush()
        return 0
      }
      if (health.invalid.length > 0 && values['drop-invalid'] !== true) {
        const count = health.invalid.length
        const lines = health.invalid.slice(0, listedLines).map(({ line, problem }) => `  ${shown}:${line}: line ${line} ${problem}\n`)
        throw new Error(
          `${shown} has ${count === 1 ? 'a line that is not an event' : `${formatCount(count)} lines that are not events`}; nothing was changed:\n${lines.join('')}` +
            `Fix or delete ${count === 1 ? 'it' : 'them'} by hand, or run repair again with --drop-invalid to move ${count === 1 ? 'it' : 'them'} to a side file.`,
        )
      }
      if (values['dry-run'] === true) {
        await out.write(
          `${shown}: repair would\n${steps.map((step) => `  ${step.verb} ${step.what}\n`).join('')}and keep the original as ${backup}. Nothing was changed (--dry-run).\n`,
        )
        await out.flush()
        return 0
      }
      const draft = `${filename}.repairing-${process.pid}`
      try {
        await writeRepaired(filename, draft, health.invalid.length > 0 ? resolve(dropped) : undefined)
        await copyFile(filename, resolve(backup), constants.COPYFILE_EXCL)
        await rename(draft, filename)
        await syncFolder(dirname(filename))
      } catch (error) {
        await unlink(draft).catch(() => {})
        throw error
      }
      let text = `${shown}: repaired; the original is kept as ${backup}\n`
      text += steps.map((step) => `  ${step.done} ${step.what}\n`).join('')
      text += `The log now holds ${plural(health.events, 'event', 'events')}${health.events > 0 ? `, indices 0–${health.events - 1}` : ''}.\n`
      if (health.renumberCount > 0) {
        text += 'Indices changed: state files built from the old numbering are out of step; delete them so their read models are rebuilt.\n'
      }
      await out.write(text)
      await out.flush()
      return 0
    } finally {
      await releaseLock()
    }
  },
}
