/**
 * The tables the PostgreSQL storages share, created on first use, and the
 * migration of an events table made by an earlier version (before the
 * metadata columns).
 */

import { TinyEventSourcingError } from '../core/errors.js'
import type { PostgresPool } from './connection.js'
import { filterCondition, metadataColumns, metadataValues, readableJson, recordsFrom, typeColumn } from './event-sql.js'

/**
 * Arbitrary constant naming the advisory lock taken while creating or
 * migrating the tables, so that processes starting together do not race on
 * `CREATE … IF NOT EXISTS` (which is not safe against concurrent creation)
 * or migrate one table twice.
 */
const schemaLockKey = 0x7465_735f // "tes_"

/**
 * The signature of the conditional append function. It is created last, in
 * the transaction that creates or migrates everything else, so its presence
 * says the schema is complete and current.
 */
const conditionalAppendArguments = 'text, json, integer, bigint, bigint, text[], text[], text[], text, bigint[], bigint[], text[]'

/** The SQL names of the schema's objects, quoted for use in statements. */
export interface SchemaNames {
  /** The schema name, quoted. */
  schema: string
  /** The schema name as given. */
  schemaName: string
}

const created = new WeakMap<PostgresPool, Map<string, Promise<void>>>()

/**
 * Creates the schema and tables if missing, or brings an older events table
 * up to date (once per pool and schema):
 *
 * - `logs (log text primary key, length bigint)`: one row per log; its row
 *   lock serialises appends (see `storage.ts`).
 * - `events (log, index, event json, type, at, caused_by, correlation_id)`,
 *   primary key `(log, index)`: `event` is `json`, not `jsonb`, so each event
 *   reads back exactly as it was written; the other columns are copies of its
 *   `type` and `_meta` fields, for SQL (and for filters, with the index
 *   `(log, type, index)`).
 * - `states (name text primary key, envelope json)`: read-model snapshots, in
 *   the file envelope `{ "_version": N, "state": … }`.
 */
export function ensureTables(pool: PostgresPool, names: SchemaNames): Promise<void> {
  let bySchema = created.get(pool)
  if (bySchema === undefined) {
    bySchema = new Map()
    created.set(pool, bySchema)
  }
  let done = bySchema.get(names.schemaName)
  if (done === undefined) {
    done = createTables(pool, names)
    bySchema.set(names.schemaName, done)
    done.catch(() => bySchema.delete(names.schemaName))
  }
  return done
}

async function createTables(pool: PostgresPool, names: SchemaNames): Promise<void> {
  const { schema } = names
  // A role allowed only to read and write (the tables made by someone else) may not run CREATE, even IF NOT EXISTS.
  const { rows } = await pool.query(
    `SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AND to_regclass($3) IS NOT NULL
      AND to_regprocedure($4) IS NOT NULL AS current, to_regclass($2) IS NOT NULL AS events`,
    [...['logs', 'events', 'states'].map((table) => `${schema}.${table}`), `${schema}.conditional_append(${conditionalAppendArguments})`],
  )
  if (rows[0].current === true) return
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query('SELECT pg_advisory_xact_lock($1)', [schemaLockKey])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${schema}.logs (log text PRIMARY KEY, length bigint NOT NULL DEFAULT 0)`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${schema}.states (name text PRIMARY KEY, envelope json NOT NULL)`)
    const { rows: columns } = await client.query(
      `SELECT count(*)::int AS count FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'type' AND NOT attisdropped`,
      [`${schema}.events`],
    )
    const hadType = columns[0].count > 0
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.events (log text NOT NULL, index bigint NOT NULL, event json NOT NULL, type text, at timestamptz, caused_by bigint, correlation_id text, PRIMARY KEY (log, index))`,
    )
    // An events table of the first schema (log, index, event): the new
    // columns are added (instantly: nullable, no default), never anything
    // dropped; old rows get their type and have no metadata (NULL times).
    await client.query(`ALTER TABLE ${schema}.events
      ADD COLUMN IF NOT EXISTS type text, ADD COLUMN IF NOT EXISTS at timestamptz,
      ADD COLUMN IF NOT EXISTS caused_by bigint, ADD COLUMN IF NOT EXISTS correlation_id text`)
    if (!hadType) await client.query(`UPDATE ${schema}.events SET type = ${typeColumn(`${readableJson('event')} -> 'type'`)}`)
    await client.query(`CREATE INDEX IF NOT EXISTS events_log_type_index ON ${schema}.events (log, type, index)`)
    for (const statement of functions(schema)) await client.query(statement)
    await client.query('COMMIT')
    client.release()
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    client.release(error as Error)
    if (rows[0].events === true && (error as { code?: string }).code === '42501') {
      throw new TinyEventSourcingError(
        'POSTGRES_SCHEMA_OUTDATED',
        `the tables in schema ${names.schemaName} were made by an earlier version and need new columns (type, at, caused_by, correlation_id), which this role may not add (${(error as Error).message}); open a log once as the tables' owner, who migrates them in place`,
        { cause: error },
      )
    }
    throw error
  }
}

/** Dollar-quotes a function body with a tag the body does not contain. */
function dollarQuoted(body: string): string {
  let tag = '$tes$'
  for (let n = 1; body.includes(tag); n++) tag = `$tes${n}$`
  return `${tag}${body}${tag}`
}

/**
 * The schema's functions:
 *
 * - `fill_event_type`, a trigger for rows inserted without their `type`
 *   column (by an earlier version still running while another migrated the
 *   table, or by hand), so that filters on types never miss an event.
 * - `conditional_append(log, records, count, expected_last, after, types,
 *   fields, field_values, channel, meta_at_ms, meta_caused_by, meta_correlation_id)`: an
 *   append (with the metadata arrays of `metadataArrays`) that is refused when an event
 *   after `after` matches the filter. See `storage.ts` for why it is a
 *   function.
 */
function functions(schema: string): string[] {
  const fillType = `CREATE OR REPLACE FUNCTION ${schema}.fill_event_type() RETURNS trigger LANGUAGE plpgsql AS ${dollarQuoted(`
DECLARE
  type json := ${readableJson('NEW.event')} -> 'type';
BEGIN
  NEW.type := ${typeColumn('type')};
  RETURN NEW;
END`)}`
  // One static query per shape of filter (types or not; 0 to 3 fields), so
  // each is planned with the type index and compares fields without a
  // subquery per row; more fields than that go through an array.
  const match = (types: string | undefined, where: { field: string; value: string }[]) =>
    `SELECT e.index, e.event INTO conflict, conflicting FROM ${schema}.events e
      WHERE e.log = log_name AND e.index > after_index AND ${filterCondition({ row: 'e', types, where })}
      ORDER BY e.index LIMIT 1;`
  const fieldCases = (types: string | undefined) =>
    [0, 1, 2, 3]
      .map(
        (count) =>
          `${count === 0 ? 'IF' : 'ELSIF'} field_count = ${count} THEN
      ${match(
        types,
        Array.from({ length: count }, (_, i) => ({ field: `fields[${i + 1}]`, value: `wanted_values[${i + 1}]` })),
      )}`,
      )
      .join('\n    ') +
    `
    ELSE
      ${match(types, []).replace(
        'ORDER BY',
        `AND NOT EXISTS (SELECT FROM generate_subscripts(fields, 1) AS f(i)
        WHERE ${filterCondition({ row: 'e', where: [{ field: 'fields[f.i]', value: 'wanted_values[f.i]' }] })} IS NOT TRUE)
      ORDER BY`,
      )}
    END IF;`
  const conditionalAppend = `CREATE OR REPLACE FUNCTION ${schema}.conditional_append(
    log_name text, records json, record_count integer, expected_last bigint, after_index bigint,
    wanted_types text[], fields text[], field_values text[], channel text,
    meta_at_ms bigint[], meta_caused_by bigint[], meta_correlation_id text[])
  RETURNS TABLE (first_index bigint, log_length bigint, conflicting_index bigint, conflicting_event json)
  LANGUAGE plpgsql VOLATILE AS ${dollarQuoted(`
#variable_conflict use_column
DECLARE
  current_length bigint;
  conflict bigint;
  conflicting json;
  field_count integer := coalesce(cardinality(fields), 0);
  wanted_values jsonb[] := ARRAY(SELECT v::jsonb FROM unnest(field_values) WITH ORDINALITY AS u(v, o) ORDER BY o);
BEGIN
  -- Takes the log's row lock, waiting for the append before to commit; each
  -- statement below then runs on a fresh snapshot that sees all it wrote.
  SELECT l.length INTO current_length FROM ${schema}.logs l WHERE l.log = log_name FOR UPDATE;
  IF NOT FOUND THEN RETURN; END IF;
  IF expected_last IS NOT NULL AND current_length <> expected_last + 1 THEN
    RETURN QUERY SELECT NULL::bigint, current_length, NULL::bigint, NULL::json;
    RETURN;
  END IF;
  IF wanted_types IS NULL THEN
    ${fieldCases(undefined)}
  ELSE
    ${fieldCases('wanted_types')}
  END IF;
  IF conflict IS NOT NULL THEN
    RETURN QUERY SELECT NULL::bigint, current_length, conflict, conflicting;
    RETURN;
  END IF;
  INSERT INTO ${schema}.events (log, index, event, ${metadataColumns})
    SELECT log_name, current_length + e.ordinality - 1, e.value, ${metadataValues}
    FROM ${recordsFrom('records', { at: 'meta_at_ms', causedBy: 'meta_caused_by', correlationId: 'meta_correlation_id' })};
  UPDATE ${schema}.logs SET length = current_length + record_count WHERE log = log_name;
  PERFORM pg_notify(channel, (current_length + record_count) || ' ' || log_name);
  RETURN QUERY SELECT current_length, current_length + record_count, NULL::bigint, NULL::json;
END`)}`
  return [
    fillType,
    `DROP TRIGGER IF EXISTS fill_event_type ON ${schema}.events`,
    `CREATE TRIGGER fill_event_type BEFORE INSERT ON ${schema}.events FOR EACH ROW WHEN (NEW.type IS NULL) EXECUTE FUNCTION ${schema}.fill_event_type()`,
    conditionalAppend,
  ]
}
