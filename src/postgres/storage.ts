import { AppendConflictError, CorruptLogError, LogClosedError, TinyEventSourcingError, usageError } from '../core/errors.js'
import type { AppendCondition, EventFilter } from '../core/filter.js'
import type { Indexed, LogStorage, StorageAppendOptions } from '../core/log-storage.js'
import { withIndex } from '../core/serialize.js'
import {
  checkConnectionOptions,
  connect,
  prepared,
  type Connection,
  type PostgresConnectionOptions,
  type PostgresPool,
  type PostgresQuery,
} from './connection.js'
import { filterCondition, metadataArrays, metadataColumns, metadataValues, recordsFrom, whereArrays } from './event-sql.js'
import { subscribe, type Subscription } from './notifications.js'

/** Options of `postgresStorage`. */
export interface PostgresStorageOptions extends PostgresConnectionOptions {
  /** The log's name: many logs share the tables, one row of `logs` each. */
  log: string
}

type StoredEvent = Indexed<Record<string, unknown>>

const readBatchSize = 1000
/** How many indices a filtered read looks at first, and at most at once (it widens while matches are sparse). */
const firstFilteredSpan = 4096
const maxFilteredSpan = 1 << 20
/** Followers ask the database for the log's length this often, in case a notification was missed (a dropped connection). */
const safetyPollMs = 1000
/** NOTIFY payloads are limited to 8000 bytes; a log name must fit with the length. */
const maxLogNameLength = 1000

const mismatchRemedy = 'Restore the rows from a backup, or export what remains and import it into a new log'

/**
 * A log storage in PostgreSQL, for logs shared by many processes and
 * machines: `initLog({ storage: postgresStorage({ pool, log: 'orders' }) })`.
 * Any number of processes may append to one log at once; indices stay
 * gapless, in commit order, and conditions are checked under the row lock
 * that orders the appends. Filtered reads select in SQL. Followers are woken
 * by `LISTEN/NOTIFY`. The tables are created if missing, or migrated from an
 * earlier version (docs/postgres.md describes them).
 *
 * @throws `UsageError` (a `TypeError`, code `USAGE`) for options it cannot use; its `open()` rejects with
 * `TinyEventSourcingError` `DEPENDENCY_MISSING` for a `connectionString` without the `pg` package installed,
 * or `POSTGRES_SCHEMA_OUTDATED` for tables a newer version of this package made; its `append` rejects with
 * `AppendConflictError` (`APPEND_CONFLICT`), or `LOG_NOT_FOUND` once the log's row was deleted under it.
 * @example
 * ```ts
 * import { postgresStorage } from 'tiny-event-sourcing/postgres'
 * const log = await initLog({ storage: postgresStorage({ connectionString: process.env.DATABASE_URL, log: 'orders' }) })
 * ```
 */
export function postgresStorage(options: PostgresStorageOptions): LogStorage {
  const schema = checkConnectionOptions(options, 'postgresStorage()')
  const log = options.log
  if (typeof log !== 'string' || log === '' || log.length > maxLogNameLength) {
    throw usageError(`postgresStorage() needs { log: "name" }, a name of 1 to ${maxLogNameLength} characters, got ${JSON.stringify(log)}`)
  }
  return new PostgresStorage(options, schema, log)
}

class PostgresStorage implements LogStorage {
  readonly name: string
  /** Other processes and machines append to the same log: the log keeps the process alive while an iterator waits for them. */
  readonly othersMayAppend = true
  #options: PostgresConnectionOptions
  #schemaName: string
  #log: string
  #connection: Connection | undefined
  #closed = false
  /** The highest length this object has seen or made, so watchers hear only of growth. */
  #length = 0
  #watchers = new Set<(length: number) => void>()
  #subscription: Subscription | undefined
  #safetyPoll: ReturnType<typeof setInterval> | undefined
  #sql!: { append: PostgresQuery; conditionalAppend: PostgresQuery; length: PostgresQuery; read: PostgresQuery; channel: string }
  /** Filtered reads' statements, by the shape of their filter. */
  #filteredReads = new Map<string, PostgresQuery>()

  constructor(options: PostgresConnectionOptions, schemaName: string, log: string) {
    this.#options = options
    this.#schemaName = schemaName
    this.#log = log
    this.name = `PostgreSQL log ${JSON.stringify(log)} (${schemaName}.events)`
  }

  async open(): Promise<number> {
    if (this.#closed) throw new LogClosedError(this.name)
    const connection = await connect(this.#options, this.#schemaName)
    this.#connection = connection
    const s = connection.schema
    this.#sql = {
      // Appends are serialised per log by the row lock that this UPDATE takes
      // on the log's row of `logs`, held until the statement commits:
      // a second writer's UPDATE waits for the first to commit, then reads the
      // length it left. So index ranges are handed out in commit order, and by
      // the time a writer holds the lock every lower index is committed and
      // visible. A reader that sees index n therefore already sees every index
      // below n: it can never skip an event that commits late (the race a
      // sequence or identity column has, where numbers are taken at insert and
      // committed in any order). The price, one writer at a time per log, is
      // small: the lock is held for one statement, and the log batches appends
      // (group commit). An advisory lock would serialise just as well but needs
      // a transaction of several statements; a row lock comes with the UPDATE
      // that keeps the length, and the optimistic check (expectedLastIndex) is
      // part of the same WHERE clause, evaluated on the latest committed row.
      // Everything runs as one statement, so it commits all or nothing, and
      // its NOTIFY is delivered only on commit.
      append: prepared(`WITH head AS (
          UPDATE ${s}.logs SET length = length + $3
          WHERE log = $1 AND ($4::bigint IS NULL OR length = $4::bigint + 1)
          RETURNING length
        ), added AS (
          INSERT INTO ${s}.events (log, index, event, ${metadataColumns})
          SELECT $1, head.length - $3 + e.ordinality - 1, e.value, ${metadataValues}
          FROM head, ${recordsFrom('$2::json', { at: '$6::bigint[]', causedBy: '$7::bigint[]', correlationId: '$8::text[]' })}
        )
        SELECT (head.length - $3)::text AS first, pg_notify($5, head.length || ' ' || $1) FROM head`),
      // With a condition, one statement cannot do: it reads the events with
      // the snapshot taken when it started, before it waited for the row
      // lock, so it would not see what the writer before it appended. The
      // function takes the lock first and checks in a statement of its own.
      conditionalAppend: prepared(
        `SELECT first_index::text AS first, log_length::text AS length, conflicting_index::text AS conflict, conflicting_event::text AS event
        FROM ${s}.conditional_append($1, $2::json, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      ),
      length: prepared(`SELECT length::text AS length FROM ${s}.logs WHERE log = $1`),
      // A range rather than `LIMIT`: without statistics (a young table) the
      // planner would fetch and sort every later row just to keep the first few.
      read: prepared(`SELECT index::text AS index, event::text AS event FROM ${s}.events
        WHERE log = $1 AND index >= $2 AND index < $2::bigint + ${readBatchSize} ORDER BY events.index`),
      channel: connection.schemaName,
    }
    try {
      await connection.pool.query(`INSERT INTO ${s}.logs (log) VALUES ($1) ON CONFLICT (log) DO NOTHING`, [this.#log])
      const { rows } = await connection.pool.query(
        `SELECT l.length::text AS length, (SELECT max(index) FROM ${s}.events WHERE log = $1)::text AS last FROM ${s}.logs l WHERE l.log = $1`,
        [this.#log],
      )
      const length = Number(rows[0].length)
      const last = rows[0].last === null ? -1 : Number(rows[0].last)
      if (last !== length - 1) {
        throw new CorruptLogError(
          this.name,
          undefined,
          `${s}.logs says the log holds ${length} events, but the last index in ${s}.events is ${last}`,
          mismatchRemedy,
        )
      }
      this.#length = length
      return length
    } catch (error) {
      this.#connection = undefined
      await connection.release()
      throw error
    }
  }

  #pool() {
    if (this.#closed || this.#connection === undefined) throw new LogClosedError(this.name)
    return this.#connection.pool
  }

  async append(records: readonly string[], options?: StorageAppendOptions): Promise<number> {
    const pool = this.#pool()
    if (records.length === 0) return this.#length
    const expected = options?.expectedLastIndex
    const condition = options?.condition
    const array = `[${records.join(',')}]`
    if (condition !== undefined) return this.#appendIf(pool, records, array, expected, condition)
    const { rows } = await pool.query({
      ...this.#sql.append,
      values: [this.#log, array, records.length, expected ?? null, this.#sql.channel, ...metadataArrays(records)],
    })
    if (rows.length === 0) {
      const actual = await this.#storedLength(pool)
      if (expected !== undefined && actual !== undefined) throw new AppendConflictError(this.name, expected, actual - 1)
      throw this.#noRow()
    }
    const first = Number(rows[0].first)
    this.#sawLength(first + records.length)
    return first
  }

  /** An append with a condition, through the function that checks it under the row lock (see `schema.ts`). */
  async #appendIf(pool: PostgresPool, records: readonly string[], array: string, expected: number | undefined, condition: AppendCondition): Promise<number> {
    const { fields, values } = whereArrays(condition)
    const { rows } = await pool.query({
      ...this.#sql.conditionalAppend,
      values: [
        this.#log,
        array,
        records.length,
        expected ?? null,
        condition.after,
        condition.types ?? null,
        fields,
        values,
        this.#sql.channel,
        ...metadataArrays(records),
      ],
    })
    if (rows.length === 0) throw this.#noRow()
    const { first, length, conflict, event } = rows[0] as { first: string | null; length: string; conflict: string | null; event: string | null }
    if (first === null) {
      // Not remembered as seen: the watchers must still hear of the appends that made the conflict.
      const actualLastIndex = Number(length) - 1
      if (conflict === null) throw new AppendConflictError(this.name, expected!, actualLastIndex)
      const conflicting = JSON.parse(withIndex(event!, Number(conflict))) as StoredEvent
      throw new AppendConflictError(this.name, { condition, event: conflicting, actualLastIndex })
    }
    this.#sawLength(Number(length))
    return Number(first)
  }

  #noRow(): Error {
    return new TinyEventSourcingError(
      'LOG_NOT_FOUND',
      `${this.name} has no row in ${this.#connection!.schema}.logs any more; was it deleted? Open the log again to start it anew`,
    )
  }

  async #storedLength(pool = this.#pool()): Promise<number | undefined> {
    const { rows } = await pool.query({ ...this.#sql.length, values: [this.#log] })
    return rows.length === 0 ? undefined : Number(rows[0].length)
  }

  read(from: number, filter?: EventFilter): AsyncGenerator<StoredEvent[]> {
    if (filter === undefined || (filter.types === undefined && Object.keys(filter.where ?? {}).length === 0)) return this.#readAll(from)
    return this.#readMatching(from, filter)
  }

  async *#readAll(from: number): AsyncGenerator<StoredEvent[]> {
    let expected = from
    for (;;) {
      if (this.#closed) return
      // Only a length known before the query started is sure to be visible to it.
      const known = this.#length
      const { rows } = await this.#pool().query({ ...this.#sql.read, values: [this.#log, expected] })
      const batch: StoredEvent[] = []
      for (const row of rows as { index: string; event: string }[]) {
        const index = Number(row.index)
        if (index !== expected) {
          throw new CorruptLogError(this.name, undefined, `event ${expected} is missing (the next stored event is ${index})`, mismatchRemedy)
        }
        batch.push(JSON.parse(withIndex(row.event, index)) as StoredEvent)
        expected++
      }
      if (batch.length > 0) yield batch
      if (rows.length < readBatchSize) {
        // Rows of a length this storage had seen were committed and visible: missing ones were deleted.
        if (expected < known) {
          throw new CorruptLogError(this.name, undefined, `event ${expected} is missing (the log holds ${known} events)`, mismatchRemedy)
        }
        return
      }
    }
  }

  /**
   * Only the events the filter selects, chosen in SQL. Each query looks at a
   * range of indices (with the type index, a range of each type), so that
   * none has to fetch and sort every later match only to return the first
   * thousand; the range widens while matches are sparse. The log's length,
   * read in the same snapshot, says where to stop.
   */
  async *#readMatching(from: number, filter: EventFilter): AsyncGenerator<StoredEvent[]> {
    if (this.#closed) return
    this.#pool() // not open yet: LogClosedError, as an unfiltered read gives
    const { fields, values } = whereArrays(filter)
    const statement = this.#filteredRead(filter.types !== undefined, fields.length)
    const filterValues: unknown[] = filter.types !== undefined ? [filter.types] : []
    for (let i = 0; i < fields.length; i++) filterValues.push(fields[i], values[i])
    let position = from
    let span = firstFilteredSpan
    for (;;) {
      if (this.#closed) return
      const { rows } = await this.#pool().query({ ...statement, values: [this.#log, position, position + span, ...filterValues] })
      const length = rows.length === 0 ? 0 : Number(rows[0].length)
      const batch: StoredEvent[] = []
      for (const row of rows as { index: string | null; event: string }[]) {
        if (row.index !== null) batch.push(JSON.parse(withIndex(row.event, Number(row.index))) as StoredEvent)
      }
      if (batch.length > 0) yield batch
      if (batch.length === readBatchSize) {
        position = batch[batch.length - 1]!.index + 1
        continue
      }
      position += span
      if (position >= length) return
      if (batch.length < readBatchSize / 4) span = Math.min(span * 4, maxFilteredSpan)
    }
  }

  /** The statement of a filtered read: `$1` log, `$2`…`$3` the range of indices, then the types if any, then each field and its value. */
  #filteredRead(types: boolean, fieldCount: number): PostgresQuery {
    const key = `${types} ${fieldCount}`
    let statement = this.#filteredReads.get(key)
    if (statement === undefined) {
      const s = this.#connection!.schema
      const first = types ? 5 : 4
      const condition = filterCondition({
        row: 'e',
        types: types ? '$4::text[]' : undefined,
        where: Array.from({ length: fieldCount }, (_, i) => ({ field: `$${first + 2 * i}::text`, value: `$${first + 2 * i + 1}::jsonb` })),
      })
      statement = prepared(`SELECT l.length::text AS length, e.index::text AS index, e.event::text AS event
        FROM ${s}.logs l LEFT JOIN LATERAL (
          SELECT e.index, e.event FROM ${s}.events e
          WHERE e.log = $1 AND e.index >= $2 AND e.index < $3 AND ${condition}
          ORDER BY e.index LIMIT ${readBatchSize}
        ) e ON true
        WHERE l.log = $1`)
      this.#filteredReads.set(key, statement)
    }
    return statement
  }

  #sawLength(length: number): void {
    if (length > this.#length) this.#length = length
  }

  /** Tells the watchers of a length this storage has not seen before. */
  #announce(length: number): void {
    if (length <= this.#length || this.#closed) return
    this.#length = length
    for (const watcher of this.#watchers) watcher(length)
  }

  watch(onAppend: (length: number) => void): () => void {
    if (this.#closed) return () => {}
    this.#watchers.add(onAppend)
    if (this.#subscription === undefined) {
      this.#subscription = subscribe(this.#pool(), this.#sql.channel, {
        log: this.#log,
        onLength: (length) => this.#announce(length),
        onListening: () => void this.#checkLength(),
      })
      this.#safetyPoll = setInterval(() => void this.#poll(), safetyPollMs)
      this.#safetyPoll.unref()
    }
    return () => {
      this.#watchers.delete(onAppend)
      if (this.#watchers.size === 0) void this.#stopWatching()
    }
  }

  /** The safety net: listens again if the listening connection was lost, and asks for the length. */
  async #poll(): Promise<void> {
    if (this.#subscription?.listening === false) await this.#subscription.listen()
    await this.#checkLength()
  }

  async #checkLength(): Promise<void> {
    try {
      const length = await this.#storedLength()
      if (length !== undefined) this.#announce(length)
    } catch {
      // The next poll tries again.
    }
  }

  async #stopWatching(): Promise<void> {
    clearInterval(this.#safetyPoll)
    this.#safetyPoll = undefined
    const subscription = this.#subscription
    this.#subscription = undefined
    await subscription?.unsubscribe()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#watchers.clear()
    await this.#stopWatching()
    const connection = this.#connection
    this.#connection = undefined
    await connection?.release()
  }
}
