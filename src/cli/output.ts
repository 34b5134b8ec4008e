/** How much text is gathered before it is handed to the stream: fewer, bigger writes. */
const flushBytes = 64 * 1024

/** Thrown by `Output` once standard output is gone; the runner treats a closed pipe as a normal end. */
export class OutputClosedError extends Error {
  override name = 'OutputClosedError'
}

/**
 * Standard output for commands that may print a lot: text is gathered and
 * written in large pieces, backpressure is respected, and a reader that goes
 * away (`| head`, `| jq` stopping early) ends the command quietly instead of
 * crashing it with EPIPE.
 */
export class Output {
  #stream: NodeJS.WriteStream
  #pending = ''
  #failure: NodeJS.ErrnoException | undefined
  #gone = new AbortController()

  constructor(stream: NodeJS.WriteStream) {
    this.#stream = stream
    // Without a listener a closed pipe is an uncaught exception.
    stream.on('error', (error: NodeJS.ErrnoException) => {
      this.#failure ??= error
      this.#gone.abort()
    })
  }

  /** Aborts when standard output can no longer be written to: long-running commands stop then. */
  get gone(): AbortSignal {
    return this.#gone.signal
  }

  /** True when the reader went away (a closed pipe), which is not a failure of the command. */
  get closedByReader(): boolean {
    return this.#failure?.code === 'EPIPE' || this.#failure?.code === 'ERR_STREAM_DESTROYED'
  }

  /** Why standard output failed, if it did for a reason other than its reader leaving (a full disk, say). */
  get failure(): Error | undefined {
    return this.closedByReader ? undefined : this.#failure
  }

  /** Queues text; it is written once enough has gathered, or on `flush()`. */
  async write(text: string): Promise<void> {
    this.#pending += text
    if (this.#pending.length >= flushBytes) await this.flush()
  }

  /** Writes everything queued and waits while the stream's buffer is full. */
  async flush(): Promise<void> {
    this.#throwIfGone()
    if (this.#pending === '') return
    const text = this.#pending
    this.#pending = ''
    if (!this.#stream.write(text)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#stream.off('drain', done)
          this.#gone.signal.removeEventListener('abort', done)
          resolve()
        }
        this.#stream.on('drain', done)
        this.#gone.signal.addEventListener('abort', done)
      })
    }
    this.#throwIfGone()
  }

  #throwIfGone(): void {
    if (this.#failure !== undefined) throw new OutputClosedError('standard output was closed', { cause: this.#failure })
  }
}
