import { CorruptStateError, usageError } from './errors.js'
import { type Slicing, stringifyInSlices } from './sliced-json.js'
import type { StateSnapshot } from './state-store-backend.js'

/** The envelope's fields in the order every built-in backend writes them. */
function envelope(snapshot: StateSnapshot<unknown>) {
  // JSON.stringify leaves out "_projection" when it is undefined.
  return { _version: snapshot._version, _projection: snapshot._projection, state: snapshot.state }
}

/**
 * The text every built-in backend stores: `{"_version":N,"state":…}`, with
 * `"_projection"` between them when the snapshot has one, and a final newline.
 */
export function serializeSnapshot(snapshot: StateSnapshot<unknown>): string {
  return `${JSON.stringify(envelope(snapshot))}\n`
}

/**
 * `serializeSnapshot`'s text in pieces, built in slices between which the
 * program goes on running (see `stringifyInSlices`). `snapshot.state` must
 * not change until the promise settles.
 */
export async function serializeSnapshotInSlices(snapshot: StateSnapshot<unknown>, slicing?: Slicing): Promise<string[]> {
  let pieces: string[] | undefined
  try {
    pieces = await stringifyInSlices(envelope(snapshot), slicing)
  } catch (error) {
    // A cycle or a BigInt, as JSON.stringify says.
    throw usageError(`the state cannot be stored as JSON (${(error as Error)?.message}); keep read models to JSON values`, { cause: error })
  }
  // Only a state JSON cannot hold at all (a function) leaves the envelope without it.
  if (pieces === undefined) throw usageError('the state cannot be stored as JSON (it is a function or a symbol); keep read models to JSON values')
  pieces.push('\n')
  return pieces
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
  return checkSnapshot<S>(envelope, name)
}

/**
 * Checks that `envelope` (parsed, or given by a backend) is a snapshot:
 * `{ _version, state, _projection? }`. Throws `CorruptStateError` naming
 * `name` and what is wrong; gives a snapshot holding just those fields.
 */
export function checkSnapshot<S>(envelope: unknown, name: string): StateSnapshot<S> {
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
  const snapshot: StateSnapshot<S> = { _version: version as number, state: state as S }
  if (projection !== undefined) snapshot._projection = projection as number | string
  return snapshot
}
