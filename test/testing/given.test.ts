import { describe, expect, it } from 'vitest'
import type { Indexed } from '../../src/index.js'
import { assertDeterministic, given, TestAssertionError } from '../../src/testing/index.js'

type Counted = { type: 'counted'; n: number } | { type: 'reset' }
const reduceTotal = (total: number, event: Indexed<Counted>) => (event.type === 'reset' ? 0 : total + event.n)

/** What `run` throws, which must be a TestAssertionError. */
async function failure(run: () => unknown): Promise<TestAssertionError> {
  let thrown: unknown
  try {
    await run()
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(TestAssertionError)
  return thrown as TestAssertionError
}

describe('given(events).reduce(reduce, initialState)', () => {
  it('passes when the state after the events is the one expected, and gives the state', () => {
    const spec = given<Counted>([
      { type: 'counted', n: 2 },
      { type: 'counted', n: 3 },
    ]).reduce(reduceTotal, 0)
    spec.expect(5)
    expect(spec.state).toBe(5)
  })

  it('hands the reducer each event with its index, as the log delivers it', () => {
    const seen: number[] = []
    given([{ type: 'a' }, { type: 'b', index: 7 }])
      .reduce((state: number[], event) => (seen.push(event.index), state.concat(event.index)), [])
      .expect([0, 7])
    expect(seen).toEqual([0, 7, 0, 7]) // twice: the second run checks determinism
  })

  it('fails naming where the state differs, with actual and expected for the runner’s diff', async () => {
    const error = await failure(() =>
      given([{ type: 'bookmark', url: 'https://a.example' }])
        .reduce((state: { byUrl: Record<string, { title: string }> }, event) => ({ byUrl: { ...state.byUrl, [event.url]: { title: 'A' } } }), { byUrl: {} })
        .expect({ byUrl: { 'https://a.example': { title: 'B' } } }),
    )
    expect(error.message).toBe('the state after 1 events: .byUrl["https://a.example"].title: expected "B", got "A"')
    expect(error).toMatchObject({ name: 'AssertionError', code: 'ERR_ASSERTION', showDiff: true, actual: { byUrl: { 'https://a.example': { title: 'A' } } } })
  })

  it('fails naming the event at fault when two runs over the same events differ', async () => {
    let calls = 0
    const error = await failure(() =>
      given<Counted>([{ type: 'counted', n: 1 }, { type: 'reset' }, { type: 'counted', n: 1 }]).reduce(
        (total, event) => (event.type === 'reset' ? ++calls : total),
        0,
      ),
    )
    expect(error.message).toMatch(
      /^reduce is not deterministic: two runs over the same events gave different states after event 1 \("reset"\) \(state: expected 1, got 2\)/,
    )
    expect(error.message).toContain('not on Date.now(), Math.random() or variables outside it')
  })

  it('fails naming the event a reducer changed', async () => {
    const error = await failure(() =>
      given([{ type: 'tagged', tags: ['a'] }]).reduce((count: number, event) => {
        event.tags.push('seen')
        return count + 1
      }, 0),
    )
    expect(error.message).toMatch(/^reduce changed event 0 \("tagged"\) it was given \(event\.tags: expected 1 items, got 2 \(extra: \["seen"\]\)\)/)
  })

  it('fails naming the event a reducer returned undefined or threw for', async () => {
    expect((await failure(() => given([{ type: 'x' }]).reduce(() => undefined as unknown as number, 0))).message).toBe(
      'reduce returned undefined for event 0 ("x"); return state itself to ignore an event',
    )
    expect(
      (
        await failure(() =>
          given([{ type: 'x' }, { type: 'y' }]).reduce((state: number, event) => {
            if (event.type === 'y') throw new Error('no y')
            return state
          }, 0),
        )
      ).message,
    ).toBe('reduce threw for event 1 ("y"): no y')
  })

  it('accepts a reducer that changes the state it is given, when each run starts from its own copy', () => {
    given([{ type: 'a' }, { type: 'b' }])
      .reduce(
        (state: { seen: string[] }, event) => {
          state.seen.push(event.type)
          return state
        },
        { seen: [] },
      )
      .expect({ seen: ['a', 'b'] })
  })
})

describe('assertDeterministic(reduce, initialState, events)', () => {
  it('returns the final state of a pure reducer, and the initial state for no events', () => {
    expect(assertDeterministic(reduceTotal, 0, [{ type: 'counted', n: 4 }])).toBe(4)
    expect(assertDeterministic(reduceTotal, 7, [])).toBe(7)
  })

  it('fails for a reducer that reads the clock', async () => {
    let clock = 0
    const error = await failure(() => assertDeterministic((_state: { at?: number }) => ({ at: ++clock }), {}, [{ type: 'tick' }]))
    expect(error.message).toMatch(/after event 0 \("tick"\) \(state\.at: expected 1, got 2\)/)
  })
})

describe('given(stored).upcast(upcast)', () => {
  type OldBookmark = { type: 'bookmark'; url: string }
  type Bookmark = { type: 'bookmark'; payload: { url: string } }
  const upcast = (stored: Indexed<OldBookmark | Bookmark>): Bookmark => ('payload' in stored ? stored : { type: 'bookmark', payload: { url: stored.url } })

  it('turns the stored shape into the current one, as the log delivers it', async () => {
    const spec = given<OldBookmark | Bookmark>([
      { type: 'bookmark', url: 'https://a.example' },
      { type: 'bookmark', payload: { url: 'https://b.example' } },
    ]).upcast(upcast)
    await spec.expect([
      { type: 'bookmark', payload: { url: 'https://a.example' } },
      { type: 'bookmark', payload: { url: 'https://b.example' } },
    ])
    expect((await spec.events()).map((event) => event.index)).toEqual([0, 1])
  })

  it('compares the index when the expected events give it', async () => {
    await given<OldBookmark>([{ type: 'bookmark', url: 'https://a.example' }])
      .upcast(upcast)
      .expect([{ type: 'bookmark', payload: { url: 'https://a.example' }, index: 0 } as Bookmark])
  })

  it('fails naming the event whose shape differs, or whose upcast threw', async () => {
    const wrong = await failure(() =>
      given<OldBookmark>([{ type: 'bookmark', url: 'https://a.example' }])
        .upcast(upcast)
        .expect([{ type: 'bookmark', payload: { url: 'https://b.example' } }]),
    )
    expect(wrong.message).toBe('the upcast events: [0].payload.url: expected "https://b.example", got "https://a.example"')
    const threw = await failure(() =>
      given([{ type: 'a' }, { type: 'b' }])
        .upcast((stored) => {
          if (stored.type === 'b') throw new Error('what is b?')
          return stored
        })
        .events(),
    )
    expect(threw.message).toBe('upcast failed for event 1 ("b"): what is b?')
  })
})

describe('given(events).handle(makeHandler)', () => {
  type Event = { type: 'bookmark'; url: string } | { type: 'info'; url: string; title: string }

  it('gives what the handler appended, caused by the event it handled', async () => {
    const spec = given<Event>([
      { type: 'bookmark', url: 'https://a.example' },
      { type: 'info', url: 'https://a.example', title: 'A' },
      { type: 'bookmark', url: 'https://b.example' },
    ]).handle(() => async (event, { append }) => {
      if (event.type === 'bookmark') await append({ type: 'info', url: event.url, title: event.url.slice(8, 9).toUpperCase() })
    })
    await spec.expectAppended([
      { type: 'info', url: 'https://a.example', title: 'A' },
      { type: 'info', url: 'https://b.example', title: 'B' },
    ])
    expect((await spec.appended()).map((event) => [event.index, event._meta?.causedBy])).toEqual([
      [3, 0],
      [4, 2],
    ])
  })

  it('collects appends the handler made through the log without awaiting them, and never hands them back', async () => {
    const handled: number[] = []
    await given<Event>([{ type: 'bookmark', url: 'https://a.example' }])
      .handle((log) => (event) => {
        handled.push(event.index)
        void log.append({ type: 'info', url: 'https://a.example', title: 'A' })
      })
      .expectAppended([{ type: 'info', url: 'https://a.example', title: 'A' }])
    expect(handled).toEqual([0])
  })

  it('fails naming what differs, and the event a handler threw for', async () => {
    const nothing = await failure(() =>
      given<Event>([{ type: 'bookmark', url: 'https://a.example' }])
        .handle(() => () => {})
        .expectAppended([{ type: 'info', url: 'https://a.example', title: 'A' }]),
    )
    expect(nothing.message).toBe(
      'the events the handler appended for 1 events: the value: expected 1 items, got 0 (missing: [{"type":"info","url":"https://a.example","title":"A"}])',
    )
    const threw = await failure(() =>
      given<Event>([{ type: 'bookmark', url: 'https://a.example' }])
        .handle(() => () => {
          throw new Error('offline')
        })
        .appended(),
    )
    expect(threw.message).toBe('the handler threw for event 0 ("bookmark"): offline')
  })
})
