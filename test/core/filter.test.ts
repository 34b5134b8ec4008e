import { describe, expect, it } from 'vitest'
import { checkFilter, matchesFilter } from '../../src/core/filter.js'

describe('matchesFilter', () => {
  it('selects by type and by field values compared as JSON, whatever the key order', () => {
    const event = { type: 'bookmark', url: 'https://a.example', tags: { x: 1, y: [1, 2] } }
    expect(matchesFilter(event, {})).toBe(true)
    expect(matchesFilter(event, { types: ['info', 'bookmark'] })).toBe(true)
    expect(matchesFilter(event, { types: ['info'] })).toBe(false)
    expect(matchesFilter(event, { where: { url: 'https://a.example', tags: { y: [1, 2], x: 1 } } })).toBe(true)
    expect(matchesFilter(event, { where: { tags: { x: 1 } } })).toBe(false)
    expect(matchesFilter(event, { where: { missing: null } })).toBe(false)
    expect(matchesFilter({ type: 7 }, { types: ['7'] })).toBe(false)
  })
})

describe('checkFilter', () => {
  it('names the value at fault', () => {
    expect(() => checkFilter({ types: [] }, 'events()')).toThrow(/events\(\): types takes a non-empty list/)
    expect(() => checkFilter({ types: 'bookmark' as never }, 'events()')).toThrow(/got "bookmark"/)
    expect(() => checkFilter({ where: { at: new Date() } }, 'events()')).toThrow(/where\.at is a Date/)
    expect(() => checkFilter({ where: { at: undefined } }, 'events()')).toThrow(/where\.at is undefined/)
    expect(() => checkFilter({ where: { n: Number.NaN } }, 'events()')).toThrow(/where\.n is NaN/)
    expect(() => checkFilter({ where: { index: 3 } }, 'events()')).toThrow(/events\(\): where\.index is the log's, not a field of the event/)
    expect(() => checkFilter({ where: { _meta: {} } }, 'events()')).toThrow(/where\._meta is the log's/)
    expect(() => checkFilter({ types: ['bookmark'], where: { url: 'u' } }, 'events()')).not.toThrow()
  })
})
