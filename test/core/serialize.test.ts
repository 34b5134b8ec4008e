import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidEventError } from '../../src/index.js'
import { serializeEvent, withIndex } from '../../src/core/serialize.js'

/**
 * Plain objects JSON carries faithfully. -0 is allowed in events (refusing
 * Math.round(-0.4) would help nobody) but reads back as 0, so it is left out here.
 */
const jsonSafeEvent = fc
  .dictionary(fc.string(), fc.jsonValue({ noUnicodeString: false }))
  .map((event) => JSON.parse(JSON.stringify(event)) as Record<string, unknown>)
  .filter((event) => !Object.hasOwn(event, 'index'))

describe('serializeEvent and withIndex', () => {
  it('give exactly the line JSON.stringify({ ...event, index }), which reads back as the event', () => {
    fc.assert(
      fc.property(jsonSafeEvent, fc.nat(), (event, index) => {
        const line = withIndex(serializeEvent(event), index)
        expect(line).toBe(JSON.stringify({ ...event, index }))
        expect(JSON.parse(line)).toEqual({ ...event, index })
      }),
      { numRuns: 500 },
    )
  })

  it('leave the index to the log: an index the event carries is dropped', () => {
    expect(serializeEvent({ type: 'a', index: 7 })).toBe('{"type":"a"}')
    expect(withIndex(serializeEvent({}), 3)).toBe('{"index":3}')
  })

  it('allow undefined properties (JSON omits them, they read back as undefined) and shared, non-circular references', () => {
    const shared = { x: 1 }
    expect(serializeEvent({ type: 'a', missing: undefined, left: shared, right: shared })).toBe('{"type":"a","left":{"x":1},"right":{"x":1}}')
    expect(serializeEvent(Object.assign(Object.create(null) as object, { type: 'no prototype' }))).toBe('{"type":"no prototype"}')
  })

  it('refuse any value JSON cannot carry, wherever it is, with an InvalidEventError naming its path', () => {
    const unfaithful = fc.constantFrom<[unknown, string]>(
      [Number.NaN, 'is NaN'],
      [Number.NEGATIVE_INFINITY, 'is -Infinity'],
      [10n, 'is a bigint'],
      [new Date(0), 'is a Date'],
      [new Map(), 'is a Map'],
      [new Set(), 'is a Set'],
      [new Uint8Array(2), 'is a Uint8Array'],
      [/regex/, 'is a RegExp'],
      [new Error('x'), 'is an Error'],
      [() => 1, 'is a function'],
      [Symbol('s'), 'is a symbol'],
    )
    const key = fc.constantFrom('a', 'b_2', 'some key', '0')
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.boolean()), { minLength: 0, maxLength: 4 }), unfaithful, (steps, [bad, what]) => {
        // Build { a: [ { "some key": bad } ] }-like nestings and the path the error must name.
        let value: unknown = bad
        let path = ''
        for (const [name, inArray] of [...steps].reverse()) {
          value = inArray ? { [name]: [value] } : { [name]: value }
          const step = /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`
          path = `${step}${inArray ? '[0]' : ''}${path}`
        }
        const event = { type: 'probe', wrapper: value }
        let error: unknown
        try {
          serializeEvent(event)
        } catch (caught) {
          error = caught
        }
        expect(error).toBeInstanceOf(InvalidEventError)
        expect(error).toBeInstanceOf(TypeError)
        expect((error as Error).message).toContain(`event.wrapper${path} ${what}`)
      }),
      { numRuns: 300 },
    )
  })

  it('refuse what is not a plain object at the top, saying what it got', () => {
    expect(() => serializeEvent(undefined)).toThrow('got undefined')
    expect(() => serializeEvent(42)).toThrow('got 42')
    expect(() => serializeEvent(new (class Event {})())).toThrow('got an Event')
    expect(() => serializeEvent(Object.create({ inherited: true }))).toThrow('got an Object')
  })
})
