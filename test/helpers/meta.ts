import { expect } from 'vitest'

/**
 * What `toEqual` takes for the `_meta` the log adds to an event appended
 * without a cause: its time, as ISO 8601 UTC with milliseconds. Tests about
 * something else use it; test/core/metadata.test.ts tests `_meta` itself.
 */
export const timeOnly = { at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) }

/** A stored line without its `_meta`: what 0.2.x wrote for the same event. */
export function withoutMeta(line: string): string {
  const { _meta: _ignored, ...event } = JSON.parse(line) as Record<string, unknown>
  return JSON.stringify(event)
}
