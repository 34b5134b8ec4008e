const redrawEveryMs = 100

/**
 * A one-line progress bar on a terminal (standard error, so piped standard
 * output stays clean), for work of at least `minTotal` steps: small jobs end
 * before a bar would help. On anything but a terminal it draws nothing at all.
 */
export class ProgressBar {
  #stream: NodeJS.WriteStream
  #total: number
  #unit: string
  #enabled: boolean
  #drawnAt = 0
  #drawn = false

  constructor(stream: NodeJS.WriteStream, total: number, unit: string, minTotal: number) {
    this.#stream = stream
    this.#total = total
    this.#unit = unit
    this.#enabled = stream.isTTY === true && total > 0 && total >= minTotal
  }

  /** Reports that `done` of the total are done; redraws now and then. */
  update(done: number): void {
    if (!this.#enabled || (done & 1023) !== 0) return
    const now = Date.now()
    if (now - this.#drawnAt < redrawEveryMs) return
    this.#drawnAt = now
    const fraction = Math.min(1, done / this.#total)
    const label = ` ${Math.floor(fraction * 100)}% ${done.toLocaleString('en-US')}/${this.#total.toLocaleString('en-US')} ${this.#unit}`
    const width = Math.max(10, Math.min(40, (this.#stream.columns ?? 80) - label.length - 3))
    const filled = Math.round(fraction * width)
    this.#stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${label}`)
    this.#drawn = true
  }

  /** Erases the bar, leaving the terminal line as it was. */
  clear(): void {
    if (this.#drawn) this.#stream.write('\r\x1b[K')
    this.#drawn = false
  }
}
