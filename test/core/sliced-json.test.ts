import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { stringifyInSlices } from '../../src/core/sliced-json.js'

const noWait = { sliceMs: 0, nextTurn: () => Promise.resolve() }
const joined = async (value: unknown) => (await stringifyInSlices(value, noWait))?.join('')

describe('stringifyInSlices', () => {
  it('gives exactly the text of JSON.stringify for any JSON value, big or small', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), fc.nat({ max: 3000 }), async (value, copies) => {
        // Repeated, so the walk (not one native call) handles the big containers.
        const big = { list: Array.from({ length: copies }, () => value), map: Object.fromEntries(Array.from({ length: copies }, (_, i) => [`k${i}`, value])) }
        expect(await joined(value)).toBe(JSON.stringify(value))
        expect(await joined(big)).toBe(JSON.stringify(big))
      }),
      { numRuns: 60 },
    )
  })

  it('writes what JSON.stringify leaves out or changes as it does: undefined, functions, toJSON, __proto__, integer keys', async () => {
    const entries: Record<string, unknown> = {}
    for (let i = 0; i < 5000; i++) {
      entries[i % 3 === 0 ? String(i) : `k${i}`] = i % 5 === 0 ? undefined : i % 7 === 0 ? () => i : i % 11 === 0 ? new Date(i) : { i, nested: [undefined, i] }
    }
    Object.defineProperty(entries, '__proto__', { value: { own: true }, enumerable: true })
    const value = { entries, list: Array.from({ length: 5000 }, (_, i) => (i % 2 === 0 ? undefined : new Date(i))), last: undefined }
    expect(await joined(value)).toBe(JSON.stringify(value))
  })

  it('fails on a cycle as JSON.stringify does, however deep in a big state', async () => {
    const state: Record<string, unknown> = {}
    for (let i = 0; i < 5000; i++) state[`k${i}`] = { i }
    ;(state.k4000 as Record<string, unknown>).back = state
    await expect(stringifyInSlices(state, noWait)).rejects.toThrow(TypeError)
  })

  it('lets the event loop run between slices of a big state', async () => {
    const byUrl: Record<string, unknown> = {}
    for (let i = 0; i < 50_000; i++) byUrl[`https://example.com/${i}`] = { url: `https://example.com/${i}`, title: `page ${i}` }
    let turns = 0
    const pieces = await stringifyInSlices(
      { byUrl },
      {
        sliceMs: 1,
        nextTurn: () =>
          new Promise<void>((resolve) =>
            setTimeout(() => {
              turns++
              resolve()
            }, 0),
          ),
      },
    )
    expect(pieces!.join('')).toBe(JSON.stringify({ byUrl }))
    expect(turns).toBeGreaterThan(3)
  })
})
