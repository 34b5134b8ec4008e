/**
 * What opening a log file finds out and mends: where the last event is, and
 * what a crash left after it (a torn last line; the lines of an atomic batch
 * whose last line is missing), set aside in a side file, so that appends
 * continue the file cleanly and no batch is ever half there.
 */
import { writeSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { type EventLine, incompleteBatchStart } from './atomic-batch.js'
import { FileShrankError, fixThatLine, indexOf, isBlank, type LogExtent, type LogFile, notAnEvent, parseIndex, parseObject, repairRemedy } from './log-file.js'

/** `cannot open <file>: it is a folder`, made by the storage, which also needs it when opening fails. */
export type FolderGivenError = () => Error

/**
 * Finds the last event and deals with a torn last line or batch. A writer
 * (`readOnly` false) mends the file's end; a follower only reads up to the
 * last complete event outside a torn batch, since what follows may be what
 * the writer is still writing.
 */
export async function recoverLogFile(file: LogFile, readOnly: boolean, folderGiven: FolderGivenError): Promise<LogExtent> {
  // A follower may open while a writer sets a torn end aside: it looks again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await recoverOnce(file, readOnly, folderGiven)
    } catch (error) {
      if (!(readOnly && error instanceof FileShrankError && attempt < 5)) throw error
    }
  }
}

async function recoverOnce(file: LogFile, readOnly: boolean, folderGiven: FolderGivenError): Promise<LogExtent> {
  const stats = await file.stat()
  // Opening a folder to read succeeds here; only the first read fails, with a message that names no path.
  if (stats.isDirectory()) throw folderGiven()
  const size = stats.size
  const { lastLine, fragmentStart } = await file.lastLine(0, size)
  let last: EventLine | undefined
  if (lastLine) {
    const event = parseObject(lastLine.text)
    const index = indexOf(event)
    if (index === undefined) throw await file.corruptAt(lastLine.start, `is the last line and not a JSON event with a numeric "index"`, fixThatLine)
    await checkLineBefore(file, lastLine.start, index)
    last = { ...lastLine, event: event!, index }
  }
  const extent: LogExtent = { end: fragmentStart, length: last ? last.index + 1 : 0 }
  const fragment = fragmentStart === size ? undefined : await file.readRange(fragmentStart, size)
  // A complete event that only lacks its newline (an editor dropped it, or the crash came just before it).
  let unterminated: EventLine | undefined
  if (fragment && !isBlank(fragment)) {
    const text = fragment.toString('utf8')
    const event = parseObject(text)
    if (indexOf(event) === extent.length) unterminated = { start: fragmentStart, text, event: event!, index: extent.length }
  }
  // The last event the log will have: a writer adds the missing newline, a
  // follower stops before that line (its writer may still be writing it).
  const lastKept = readOnly ? last : (unterminated ?? last)
  const batchStart = await incompleteBatchStart(file, lastKept ?? noLine, 0)
  if (batchStart) {
    // Lines of an atomic batch whose last line is missing: a crash cut its
    // write short, so its append never resolved, and all of it goes.
    await checkLineBefore(file, batchStart.start, batchStart.index)
    const torn = { end: batchStart.start, length: batchStart.index }
    if (!readOnly) await setAsideTornBatch(file, torn, size, extent.length + (unterminated ? 1 : 0) - batchStart.index)
    return torn
  }
  if (fragment === undefined) return extent
  if (isBlank(fragment)) {
    if (!readOnly) await file.truncate(fragmentStart)
    return extent
  }
  if (unterminated) {
    if (readOnly) return extent
    // Opened for appending: the newline lands at the end.
    writeSync(file.fd, '\n')
    extent.end = size + 1
    extent.length++
    return extent
  }
  // In a follower the fragment is a line the writer is still writing.
  if (!readOnly) await setAsideTornTail(file, fragment, fragmentStart, extent.length)
  return extent
}

/** A stand-in for "no last line", which ends no batch. */
const noLine: EventLine = { start: 0, text: '', event: {}, index: -1 }

/**
 * Moves the lines of a torn atomic batch, from its first line to the end of
 * the file (with a torn last line, if any), to a side file, so the log ends
 * with the event before the batch; says so in a warning.
 */
async function setAsideTornBatch(file: LogFile, torn: LogExtent, size: number, completeLines: number): Promise<void> {
  const lines = await file.lineNumberAt(torn.end)
  const aside = await setAside(file, await file.readRange(torn.end, size), torn.end)
  process.emitWarning(
    `${file.name} ended with an incomplete atomic batch (appendAll): ${completeLines} of its events (from line ${lines}, ${size - torn.end} bytes) ` +
      `were written before a crash cut the write short, and its last event is missing. The batch was moved to ${aside}, whole, ` +
      `and the log continues after event ${torn.length - 1}.`,
    { code: 'TINY_EVENT_SOURCING_TORN_TAIL' },
  )
}

/** Copies `bytes` (the file from `start` on) to `<file>.torn-<time>`, flushed, then cuts the log at `start`; returns the side file's name. */
async function setAside(file: LogFile, bytes: Buffer, start: number): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const aside = `${file.name}.torn-${stamp}`
  const asideFile = await open(aside, 'wx')
  try {
    await asideFile.writeFile(bytes)
    await asideFile.datasync()
  } finally {
    await asideFile.close()
  }
  await file.truncate(start)
  await file.datasync()
  return aside
}

/**
 * The next append takes the last line's index + 1, so that index must be
 * the highest: checking the line before it catches the usual hand edits at
 * the end (a line pasted or moved there) without reading the whole file.
 */
async function checkLineBefore(file: LogFile, lastLineStart: number, lastIndex: number): Promise<void> {
  const { lastLine: previous } = await file.lastLine(0, lastLineStart)
  const previousIndex = previous ? parseIndex(previous.text) : -1
  if (previous && previousIndex === undefined) throw await file.corruptAt(previous.start, notAnEvent, fixThatLine)
  if (previousIndex === lastIndex - 1) return
  const problem = previous
    ? `has index ${lastIndex}, but the line before it has index ${previousIndex}: lines were removed, duplicated, moved or renumbered by hand`
    : `has index ${lastIndex}, but it is the first event, which must have index 0: lines were removed or renumbered by hand`
  throw await file.corruptAt(lastLineStart, problem, `${repairRemedy(file.name)}; nothing was changed`)
}

async function setAsideTornTail(file: LogFile, fragment: Buffer, fragmentStart: number, length: number): Promise<void> {
  const aside = await setAside(file, fragment, fragmentStart)
  process.emitWarning(
    `${file.name} ended with an incomplete line (${fragment.length} bytes), most likely from a crash during an append. ` +
      `It was moved to ${aside} and the log continues after event ${length - 1}.`,
    { code: 'TINY_EVENT_SOURCING_TORN_TAIL' },
  )
}
