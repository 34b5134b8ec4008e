/**
 * Model-based tests: fast-check generates random sequences of appends (valid
 * and invalid, awaited and in bursts), optimistic appends, subscribers
 * starting at random positions, reads from random positions, and close +
 * reopen; after every step the log must agree with a plain array of the
 * events appended so far.
 */
// Written with metadata: false, so that the model and the damaged files
// compare with plain `{ ...event, index }` lines; lines with `_meta` take the
// same paths through recovery and reads (test/file/atomic-batch.test.ts,
// test/file/filtered-read.test.ts, log-crash and log-batch-crash).
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AppendConflictError, initLog, InvalidEventError, memoryStorage, type Indexed, type Log, type LogStorage } from '../../src/index.js'
import { hasNegativeZero, rounds, tempDir } from './harness.js'

type Event = Record<string, unknown>

const validEvent: fc.Arbitrary<Event> = fc.record({
  type: fc.constantFrom('added', 'removed', 'renamed'),
  payload: fc.jsonValue({ maxDepth: 2 }).filter((value) => !hasNegativeZero(value)),
  note: fc.option(fc.string({ unit: 'grapheme', maxLength: 20 }), { nil: undefined }),
})

function circular(): Event {
  const event: Event = { type: 'circular' }
  event.self = event
  return event
}
class NotPlain {
  type = 'class instance'
}
/** Values JSON cannot carry faithfully: each must be refused, using up no index. */
const invalidEvent = fc.constantFrom<() => unknown>(
  () => null,
  () => 42,
  () => 'text',
  () => [{ type: 'array' }],
  () => new NotPlain(),
  () => ({ type: 'date', at: new Date(0) }),
  () => ({ type: 'bigint', n: 1n }),
  () => ({ type: 'nan', n: Number.NaN }),
  () => ({ type: 'infinity', n: Number.POSITIVE_INFINITY }),
  () => ({ type: 'map', m: new Map() }),
  () => ({ type: 'hole', list: [1, undefined, 3] }),
  () => ({ type: 'function', f: () => 1 }),
  circular,
)

type Command =
  | { kind: 'append'; event: Event }
  | { kind: 'appendInvalid'; make: () => unknown }
  | { kind: 'burst'; items: ({ valid: true; event: Event } | { valid: false; make: () => unknown })[] }
  | { kind: 'appendExpected'; event: Event; offset: -1 | 0 | 1 }
  | { kind: 'subscribe'; at: number; slow: boolean }
  | { kind: 'readFrom'; at: number }
  | { kind: 'sync' }
  | { kind: 'reopen' }

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: validEvent.map((event) => ({ kind: 'append' as const, event })) },
  { weight: 1, arbitrary: invalidEvent.map((make) => ({ kind: 'appendInvalid' as const, make })) },
  {
    weight: 3,
    arbitrary: fc
      .array(
        fc.oneof(
          { weight: 5, arbitrary: validEvent.map((event) => ({ valid: true as const, event })) },
          { weight: 1, arbitrary: invalidEvent.map((make) => ({ valid: false as const, make })) },
        ),
        { minLength: 1, maxLength: 40 },
      )
      .map((items) => ({ kind: 'burst' as const, items })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ event: validEvent, offset: fc.constantFrom(-1 as const, 0 as const, 1 as const) })
      .map((c) => ({ kind: 'appendExpected' as const, ...c })),
  },
  { weight: 2, arbitrary: fc.record({ at: fc.nat(), slow: fc.boolean() }).map((c) => ({ kind: 'subscribe' as const, ...c })) },
  { weight: 1, arbitrary: fc.nat().map((at) => ({ kind: 'readFrom' as const, at })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'sync' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
)

/** A background `for await` over `log.events({ after })`, recording what it receives. */
class Subscriber {
  readonly received: Indexed<Event>[] = []
  readonly done: Promise<void>
  #waiters: { count: number; resolve: () => void }[] = []

  constructor(
    log: Log<Event>,
    readonly after: number,
    slow: boolean,
  ) {
    this.done = (async () => {
      for await (const event of log.events({ after })) {
        // A slow subscriber yields to the event loop for every event, letting appends run ahead of it.
        if (slow) await new Promise((resolve) => setImmediate(resolve))
        this.received.push(event)
        this.#waiters = this.#waiters.filter((waiter) => (this.received.length >= waiter.count ? (waiter.resolve(), false) : true))
      }
    })()
  }

  /** Resolves once `count` events arrived; fails the test if they do not come within a generous time. */
  until(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`subscriber after ${this.after} received ${this.received.length} of ${count} events within 10 s`)),
        10_000,
      )
      this.#waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) })
      this.done.catch(reject)
    })
  }
}

function expectEvents(actual: readonly Indexed<Event>[], model: readonly Event[], first: number): void {
  expect(actual).toEqual(model.slice(first).map((event, i) => JSON.parse(JSON.stringify({ ...event, index: first + i }))))
}

/** Runs the commands on the log and on the model side by side; resolves with the model. */
async function runModel(openLog: () => Promise<Log<Event>>, commands: Command[]): Promise<Event[]> {
  const model: Event[] = []
  let log = await openLog()
  let subscribers: Subscriber[] = []

  const sync = async () => {
    for (const subscriber of subscribers) {
      const expected = Math.max(0, model.length - subscriber.after - 1)
      await subscriber.until(expected)
      expectEvents(subscriber.received, model, subscriber.after + 1)
    }
  }

  for (const step of commands) {
    switch (step.kind) {
      case 'append': {
        const stored = await log.append(step.event)
        expect(stored).toEqual({ ...step.event, index: model.length })
        model.push(step.event)
        break
      }
      case 'appendInvalid':
        await expect(log.append(step.make() as Event)).rejects.toBeInstanceOf(InvalidEventError)
        break
      case 'burst': {
        // Not awaited one by one: valid events must get consecutive indices in call order, invalid ones none.
        const settled = await Promise.allSettled(step.items.map((item) => log.append((item.valid ? item.event : item.make()) as Event)))
        step.items.forEach((item, i) => {
          const result = settled[i]!
          if (item.valid) {
            expect(result).toEqual({ status: 'fulfilled', value: { ...item.event, index: model.length } })
            model.push(item.event)
          } else {
            expect(result.status).toBe('rejected')
            expect((result as PromiseRejectedResult).reason).toBeInstanceOf(InvalidEventError)
          }
        })
        break
      }
      case 'appendExpected': {
        const expectedLastIndex = model.length - 1 + step.offset
        const appending = log.append(step.event, { expectedLastIndex })
        if (step.offset === 0) {
          expect(await appending).toEqual({ ...step.event, index: model.length })
          model.push(step.event)
        } else if (expectedLastIndex < -1) {
          // No log can have that last index: a programming error, not a conflict.
          await expect(appending).rejects.toThrow(TypeError)
        } else {
          await expect(appending).rejects.toBeInstanceOf(AppendConflictError)
        }
        break
      }
      case 'subscribe':
        subscribers.push(new Subscriber(log, (step.at % (model.length + 1)) - 1, step.slow))
        break
      case 'readFrom': {
        const after = (step.at % (model.length + 1)) - 1
        const iterator = log.events({ after })
        if (after + 1 < model.length) {
          const first = await iterator.next()
          expectEvents([first.value as Indexed<Event>], model.slice(0, after + 2), after + 1)
        }
        await iterator.return?.()
        break
      }
      case 'sync':
        await sync()
        break
      case 'reopen': {
        await log.close()
        // Closing ends every subscriber's loop; what each got is a prefix of its part of the model.
        for (const subscriber of subscribers) {
          await subscriber.done
          expectEvents(subscriber.received, model.slice(0, subscriber.after + 1 + subscriber.received.length), subscriber.after + 1)
        }
        subscribers = []
        await expect(log.append({ type: 'late' })).rejects.toThrow(/closed/)
        log = await openLog()
        break
      }
    }
    expect(log.length).toBe(model.length)
  }

  await sync()
  await log.close()
  for (const subscriber of subscribers) await subscriber.done
  // A fresh log replays exactly the model.
  log = await openLog()
  const replayed: Indexed<Event>[] = []
  if (log.length > 0) {
    for await (const event of log.events()) {
      replayed.push(event)
      if (event.index === log.length - 1) break
    }
  }
  await log.close()
  expectEvents(replayed, model, 0)
  return model
}

describe('the log against a model', () => {
  const runs = rounds(20, 400)
  const settings = { numRuns: runs, endOnFailure: true }

  it(
    `agrees with an array over ${runs} random command sequences (memory storage)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(command, { maxLength: 30 }), async (commands) => {
          const storage: LogStorage = memoryStorage()
          await runModel(() => initLog<Event>({ storage, metadata: false }), commands)
        }),
        settings,
      )
    },
    rounds(120_000, 1_800_000),
  )

  it(
    `agrees with an array over ${runs} random command sequences (file storage, fsync on and off)`,
    async () => {
      const dir = await tempDir('model')
      let run = 0
      await fc.assert(
        fc.asyncProperty(fc.array(command, { maxLength: 30 }), fc.boolean(), async (commands, fsync) => {
          const filename = join(dir, `log-${run++}.ndjson`)
          const model = await runModel(() => initLog<Event>({ filename, fsync, metadata: false }), commands)
          // The file holds exactly one line per event: JSON.stringify({ ...event, index }).
          const text = await readFile(filename, 'utf8')
          expect(text).toBe(model.map((event, index) => `${JSON.stringify({ ...event, index })}\n`).join(''))
        }),
        settings,
      )
    },
    rounds(180_000, 1_800_000),
  )
})
