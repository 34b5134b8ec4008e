/**
 * Where in the file the line of event N starts, so `events({ after })` and
 * followers read from there instead of from the top: a cache of offsets
 * seen, then a search on the indices written in the file itself.
 */
import { fixThatLine, isBlank, type LogExtent, type LogFile, newline, notAnEvent, parseIndex, probeBytes, repairRemedy } from './log-file.js'

/** Below this many bytes a binary search for an index gives way to a plain scan. */
const scanBytes = 64 * 1024
/** How many index → byte offset pairs are remembered to start reads without searching. */
const offsetCacheSize = 1024

export class OffsetSearch {
  #file: LogFile
  #extent: LogExtent
  #offsets = new Map<number, number>()

  constructor(file: LogFile, extent: LogExtent) {
    this.#file = file
    this.#extent = extent
  }

  /** Records that the line of event `index` starts at `offset` (or that the file ends there, for the next index). */
  remember(index: number, offset: number): number {
    this.#offsets.delete(index)
    this.#offsets.set(index, offset)
    if (this.#offsets.size > offsetCacheSize) this.#offsets.delete(this.#offsets.keys().next().value!)
    return offset
  }

  /** Finds where the line of event `index` starts: from the offset cache, else by binary search on the indices in the file. */
  async offsetOf(index: number): Promise<number> {
    const { end, length } = this.#extent
    if (index === 0) return 0
    if (index === length) return end
    const cached = this.#offsets.get(index)
    if (cached !== undefined) return cached
    let low = 0
    let lowIndex = 0
    let high = end
    let highIndex = length
    for (const [knownIndex, knownOffset] of this.#offsets) {
      if (knownIndex <= index && knownIndex > lowIndex) {
        low = knownOffset
        lowIndex = knownIndex
      }
      if (knownIndex > index && knownIndex < highIndex) {
        high = knownOffset
        highIndex = knownIndex
      }
    }
    // Lines tend to be of similar length, so where the index falls between
    // the known ends is a good guess at its offset, and one or two probes
    // usually land on it. A guess that does not halve the range is followed by
    // a plain halving, which keeps the worst case logarithmic.
    let halve = false
    while (high - low > scanBytes) {
      const range = high - low
      // Indices out of order (a hand-edited file) leave no sensible guess: halve; the scan reports the fault.
      if (!(highIndex > lowIndex)) halve = true
      const guess = halve
        ? low + Math.floor(range / 2)
        : Math.min(high - 1, Math.max(low, low + Math.floor(((index - lowIndex - 0.5) / (highIndex - lowIndex)) * range)))
      const probe = await this.#lineAfter(guess, high)
      if (probe === undefined) {
        // The last line before `high` spans the guess: its index is unknown, so only halving is left.
        high = guess
        highIndex = Number.NaN
        halve = true
        continue
      }
      if (probe.index === index) return this.remember(index, probe.start)
      if (probe.index < index) {
        low = probe.start
        lowIndex = probe.index
      } else {
        high = probe.start
        highIndex = probe.index
      }
      halve = Number.isNaN(highIndex) || high - low > range / 2
    }
    return this.#scanFor(index, low)
  }

  /**
   * Reads lines in order from `from` (a line start at or before the line of
   * event `index`) until that line; the first line past `index` means it is
   * missing, and names the line at fault.
   */
  async #scanFor(index: number, from: number): Promise<number> {
    const file = this.#file
    let position = from
    let window = scanBytes
    while (position < this.#extent.end) {
      const end = this.#extent.end
      const bytes = await file.readRange(position, Math.min(end, position + window))
      let lineStart = 0
      for (let lineEnd = bytes.indexOf(newline); lineEnd !== -1; lineEnd = bytes.indexOf(newline, lineStart)) {
        const line = bytes.subarray(lineStart, lineEnd)
        const start = position + lineStart
        lineStart = lineEnd + 1
        if (isBlank(line)) continue
        const found = parseIndex(line.toString('utf8'))
        if (found === undefined) throw await file.corruptAt(start, notAnEvent, fixThatLine)
        if (found === index) return this.remember(index, start)
        if (found > index) {
          throw await file.corruptAt(
            start,
            `has index ${found}, but no line before it has index ${index}: lines were removed, moved or renumbered by hand`,
            `${repairRemedy(file.name)}; nothing was changed`,
          )
        }
      }
      if (lineStart === 0) {
        if (position + window >= this.#extent.end) break // the file changed under us
        window *= 4 // a line longer than the window
      }
      position += lineStart
    }
    throw await file.corruptAt(
      from,
      `starts the part of the file where the line with index ${index} should be, but it is not there: lines were moved or renumbered by hand`,
      `${repairRemedy(file.name)}; nothing was changed`,
    )
  }

  /** The first non-blank line starting after the newline that follows `offset`, and before `before`. */
  async #lineAfter(offset: number, before: number): Promise<{ start: number; index: number } | undefined> {
    let window = probeBytes
    for (;;) {
      const end = Math.min(before, offset + window)
      const bytes = await this.#file.readRange(offset, end)
      const newlineAt = bytes.indexOf(newline)
      if (newlineAt === -1) {
        if (end >= before) return undefined
        window *= 4
        continue
      }
      // Usually the line wanted is whole in what was just read: no second read.
      const lineEnd = bytes.indexOf(newline, newlineAt + 1)
      const start = offset + newlineAt + 1
      if (lineEnd !== -1 && start < before) {
        const line = bytes.subarray(newlineAt + 1, lineEnd)
        if (!isBlank(line)) {
          const index = parseIndex(line.toString('utf8'))
          if (index === undefined) throw await this.#file.corruptAt(start, notAnEvent, fixThatLine)
          return { start, index }
        }
      }
      return this.#lineAt(start, before)
    }
  }

  /** The first non-blank line starting at or after `start` (a line start) and before `before`, read whole, with its index. */
  async #lineAt(start: number, before: number): Promise<{ start: number; index: number } | undefined> {
    let lineStart = start
    let window = probeBytes
    while (lineStart < before) {
      const end = this.#extent.end
      const bytes = await this.#file.readRange(lineStart, Math.min(end, lineStart + window))
      const lineEnd = bytes.indexOf(newline)
      if (lineEnd === -1) {
        if (lineStart + window >= this.#extent.end) return undefined // the file changed under us
        window *= 4 // a line longer than the window: read it whole
        continue
      }
      const line = bytes.subarray(0, lineEnd)
      if (!isBlank(line)) {
        const index = parseIndex(line.toString('utf8'))
        if (index === undefined) throw await this.#file.corruptAt(lineStart, notAnEvent, fixThatLine)
        return { start: lineStart, index }
      }
      lineStart += lineEnd + 1
    }
    return undefined
  }
}
