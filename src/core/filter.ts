/** Which events a reader wants, or an append's condition is about. */
export interface EventFilter {
  /** Only events whose `type` field is one of these. */
  readonly types?: readonly string[]
  /**
   * Only events whose fields have these values, compared as JSON:
   * `{ url: 'https://…' }` matches events with exactly that `url`.
   */
  readonly where?: Readonly<Record<string, unknown>>
}

/**
 * The condition of an append about one entity: it fails with
 * `AppendConflictError` if an event after index `after` matches the filter
 * (another writer decided about the same thing meanwhile).
 */
export interface AppendCondition extends EventFilter {
  /** The last index the decision was based on: events up to here are what the caller read. */
  readonly after: number
}
