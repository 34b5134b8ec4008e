/**
 * What opening a log file finds out and mends: where the last event is, and
 * what a crash left after it (a torn last line, set aside whole), so that
 * appends continue the file cleanly.
 */
import { writeSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { fixThatLine, isBlank, type LogExtent, type LogFile, notAnEvent, parseIndex, repairRemedy } from './log-file.js'

/** `cannot open <file>: it is a folder`, made by the storage, which also needs it when opening fails. */
export type FolderGivenError = () => Error

/**
 * Finds the last event and deals with a torn last line. A writer
 * (`readOnly` false) mends the file's end; a follower only reads up to the
 * last complete event, since what follows may be a line still being written.
 */
export async function recoverLogFile(file: LogFile, readOnly: boolean, folderGiven: FolderGivenError): Promise<LogExtent> {
  const stats = await file.stat()
  // Opening a folder to read succeeds here; only the first read fails, with a message that names no path.
  if (stats.isDirectory()) throw folderGiven()
  const size = stats.size
  const extent: LogExtent = { end: 0, length: 0 }
  const { lastLine, fragmentStart } = await file.lastLine(0, size)
  if (lastLine) {
    const index = parseIndex(lastLine.text)
    if (index === undefined) throw await file.corruptAt(lastLine.start, `is the last line and not a JSON event with a numeric "index"`, fixThatLine)
    await checkLineBefore(file, lastLine.start, index)
    extent.length = index + 1
  }
  extent.end = fragmentStart
  if (fragmentStart === size) return extent
  const fragment = await file.readRange(fragmentStart, size)
  if (isBlank(fragment)) {
    if (!readOnly) await file.truncate(fragmentStart)
    return extent
  }
  if (parseIndex(fragment.toString('utf8')) === extent.length) {
    // A complete event that only lacks its newline (an editor dropped it, or the crash came just before it).
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
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const aside = `${file.name}.torn-${stamp}`
  const asideFile = await open(aside, 'wx')
  try {
    await asideFile.writeFile(fragment)
    await asideFile.datasync()
  } finally {
    await asideFile.close()
  }
  await file.truncate(fragmentStart)
  await file.datasync()
  process.emitWarning(
    `${file.name} ended with an incomplete line (${fragment.length} bytes), most likely from a crash during an append. ` +
      `It was moved to ${aside} and the log continues after event ${length - 1}.`,
    { code: 'TINY_EVENT_SOURCING_TORN_TAIL' },
  )
}
