import { CorruptStateError } from './errors.js'
import type { StateSnapshot } from './state-store-backend.js'

/**
 * The text every built-in backend stores: `{"_version":N,"state":…}`, with
 * `"_projection"` between them when the snapshot has one, and a final newline.
 */
export function serializeSnapshot(snapshot: StateSnapshot<unknown>): string {
  // JSON.stringify leaves out "_projection" when it is undefined.
  return `${JSON.stringify({ _version: snapshot.version, _projection: snapshot.projection, state: snapshot.state })}\n`
}

/** A projection version `project({ version })` accepts and a snapshot may record: a string or a finite number. */
export function isProjectionVersion(value: unknown): value is number | string {
  return typeof value === 'string' || Number.isFinite(value)
}

/** Reads an envelope back, or throws `CorruptStateError` naming `name` and saying what is wrong with it. */
export function parseSnapshot<S>(text: string, name: string): StateSnapshot<S> {
  if (text.trim() === '') throw new CorruptStateError(name, 'is empty, where { "_version": N, "state": … } was expected')
  let envelope: unknown
  try {
    envelope = JSON.parse(text)
  } catch (error) {
    throw new CorruptStateError(name, `is not valid JSON (${(error as Error).message})`, { cause: error })
  }
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) {
    throw new CorruptStateError(name, 'is not a JSON object { "_version": N, "state": … }')
  }
  const { _version: version, _projection: projection, state } = envelope as Record<string, unknown>
  if (!Number.isInteger(version) || (version as number) < -1) {
    throw new CorruptStateError(name, `"_version" is ${JSON.stringify(version) ?? 'missing'}, where an integer of -1 or more was expected`)
  }
  if (!Object.hasOwn(envelope, 'state')) throw new CorruptStateError(name, 'has no "state" field')
  if (projection !== undefined && !isProjectionVersion(projection)) {
    throw new CorruptStateError(name, `"_projection" is ${JSON.stringify(projection)}, where a number or a string was expected`)
  }
  const snapshot: StateSnapshot<S> = { version: version as number, state: state as S }
  if (projection !== undefined) snapshot.projection = projection as number | string
  return snapshot
}
