/**
 * Push notifications of appends: every log storage on one pool shares one
 * connection that `LISTEN`s on the schema's channel, so opening many logs
 * does not take many connections out of the pool.
 */
import { quoteIdentifier, type PostgresClient, type PostgresPool } from './connection.js'

/** A log storage's interest in the appends to its log. */
export interface Subscriber {
  log: string
  /** Called with the length a committed append left the log at. */
  onLength(length: number): void
  /** Called once the connection listens (at first, and again after a lost one): appends made before it were not heard. */
  onListening(): void
}

/** A subscription to the notifications of one log. */
export interface Subscription {
  /** Whether a connection is listening now. */
  readonly listening: boolean
  /** Listens (again) if no connection is listening; resolves when done or failed (a later call tries again). */
  listen(): Promise<void>
  /** Stops the calls; the last subscriber of a pool and channel gives the connection back. */
  unsubscribe(): Promise<void>
}

const hubs = new WeakMap<PostgresPool, Map<string, NotificationHub>>()

/** Starts delivering the notifications of `subscriber.log` on `channel` of `pool`. */
export function subscribe(pool: PostgresPool, channel: string, subscriber: Subscriber): Subscription {
  let byChannel = hubs.get(pool)
  if (byChannel === undefined) {
    byChannel = new Map()
    hubs.set(pool, byChannel)
  }
  let hub = byChannel.get(channel)
  if (hub === undefined) {
    const created = new NotificationHub(pool, channel, () => byChannel.delete(channel))
    byChannel.set(channel, created)
    hub = created
  }
  const shared = hub
  shared.add(subscriber)
  return {
    get listening() {
      return shared.listening
    },
    listen: () => shared.listen(),
    unsubscribe: () => shared.remove(subscriber),
  }
}

class NotificationHub {
  #pool: PostgresPool
  #channel: string
  #forget: () => void
  #subscribers = new Set<Subscriber>()
  #listener: Listener | undefined
  #connecting: Promise<void> | undefined

  constructor(pool: PostgresPool, channel: string, forget: () => void) {
    this.#pool = pool
    this.#channel = channel
    this.#forget = forget
  }

  get listening(): boolean {
    return this.#listener !== undefined
  }

  add(subscriber: Subscriber): void {
    this.#subscribers.add(subscriber)
    if (this.#listener === undefined) void this.listen()
    // Already listening: what was appended before this subscriber came was not passed on to it.
    else queueMicrotask(() => subscriber.onListening())
  }

  async remove(subscriber: Subscriber): Promise<void> {
    if (!this.#subscribers.delete(subscriber) || this.#subscribers.size > 0) return
    this.#forget()
    await this.#connecting
    const listener = this.#listener
    this.#listener = undefined
    await listener?.stop()
  }

  listen(): Promise<void> {
    if (this.#listener !== undefined || this.#subscribers.size === 0) return Promise.resolve()
    this.#connecting ??= (async () => {
      try {
        const client = await this.#pool.connect()
        if (this.#subscribers.size === 0) {
          client.release()
          return
        }
        const listener = new Listener(
          client,
          this.#channel,
          (payload) => this.#dispatch(payload),
          () => {
            // The connection is gone; the subscribers' safety polls call listen() again.
            if (this.#listener === listener) this.#listener = undefined
          },
        )
        await listener.start()
        if (this.#subscribers.size === 0) {
          await listener.stop()
          return
        }
        this.#listener = listener
        for (const subscriber of this.#subscribers) subscriber.onListening()
      } catch {
        // Not listening: the subscribers' safety polls try again.
      } finally {
        this.#connecting = undefined
      }
    })()
    return this.#connecting
  }

  /** Payload: "<length> <log name>", sent by the append statement on commit. */
  #dispatch(payload: string): void {
    const space = payload.indexOf(' ')
    const log = payload.slice(space + 1)
    const length = Number(payload.slice(0, space))
    for (const subscriber of this.#subscribers) if (subscriber.log === log) subscriber.onLength(length)
  }
}

/** A pooled connection kept for `LISTEN`, handed back to the pool exactly once. */
class Listener {
  #client: PostgresClient
  #channel: string
  #released = false
  #onNotification: (message: { channel: string; payload?: string | undefined }) => void
  #onError: () => void

  constructor(client: PostgresClient, channel: string, onPayload: (payload: string) => void, onLost: () => void) {
    this.#client = client
    this.#channel = channel
    this.#onNotification = (message) => {
      if (message.channel === channel && message.payload !== undefined) onPayload(message.payload)
    }
    this.#onError = () => {
      onLost()
      this.#release(true)
    }
    client.on('notification', this.#onNotification)
    client.on('error', this.#onError)
    // Listening alone must not keep the process alive: the log does that
    // while one of its iterators waits (through its environment's keepAlive).
    client.unref?.()
  }

  async start(): Promise<void> {
    try {
      await this.#client.query(`LISTEN ${quoteIdentifier(this.#channel)}`)
    } catch (error) {
      this.#release(true)
      throw error
    }
  }

  async stop(): Promise<void> {
    if (this.#released) return
    // Someone may be awaiting close(): the process must not end before the reply.
    this.#client.ref?.()
    try {
      // A connection going back to the pool must not keep listening.
      await this.#client.query(`UNLISTEN ${quoteIdentifier(this.#channel)}`)
      this.#release(false)
    } catch {
      this.#release(true)
    }
  }

  #release(destroy: boolean): void {
    if (this.#released) return
    this.#released = true
    this.#client.removeListener('notification', this.#onNotification)
    // A destroyed connection may still report errors: keep a listener so they cannot crash the process.
    if (!destroy) this.#client.removeListener('error', this.#onError)
    this.#client.release(destroy)
  }
}
