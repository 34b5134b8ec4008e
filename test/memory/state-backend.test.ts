import { describe, expect, it } from 'vitest'
import { memoryStoreBackend } from '../../src/index.js'
import { describeStateStoreBackend } from '../../src/testing/index.js'

describeStateStoreBackend(
  'memoryStoreBackend',
  {
    create: (initialState) => memoryStoreBackend(initialState),
    // Memory has no place outside the backend object: reopening is using it again.
    reopen: (previous, initialState) => (initialState === undefined ? previous : { ...previous, initialState }),
  },
  { describe, it },
)

describe('memoryStoreBackend', () => {
  it('is named "memory" unless given a name', () => {
    expect(memoryStoreBackend().name).toBe('memory')
    expect(memoryStoreBackend(undefined, { name: 'bookmarks' }).name).toBe('bookmarks')
  })

  it('refuses, at write, a state JSON cannot store, keeping what it had', async () => {
    const backend = memoryStoreBackend<unknown>()
    await backend.write({ _version: 0, state: 'kept' })
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    await expect(backend.write({ _version: 1, state: cyclic })).rejects.toThrow(TypeError)
    expect(await backend.read()).toEqual({ _version: 0, state: 'kept' })
  })
})
