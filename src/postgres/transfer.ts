import { access, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { FileAccessError, TinyEventSourcingError, usageError } from '../core/errors.js'
import { fileStorage } from '../file/storage.js'
import type { LogStorage } from '../core/log-storage.js'
import { postgresStorage, type PostgresStorageOptions } from './storage.js'

/** Options of `importLog` and `exportLog`: a PostgreSQL log, and the NDJSON log file on the other side. */
export interface TransferOptions extends PostgresStorageOptions {
  /** The NDJSON log file, as `initLog({ filename })` writes it. */
  filename: string
}

/**
 * Copies every event of an NDJSON log file into a PostgreSQL log that is
 * still empty, keeping each event's index, and resolves with the number of
 * events copied. The file is only read (a writer may keep appending to it;
 * what it held when each batch was read is copied). Rejects, copying
 * nothing, when the PostgreSQL log already holds events.
 */
export async function importLog(options: TransferOptions): Promise<number> {
  const filename = checkFilename(options, 'importLog()')
  const target = postgresStorage(options)
  try {
    await access(filename)
  } catch (error) {
    throw new FileAccessError(
      `cannot import ${resolve(filename)}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : (error as Error).message}`,
      error,
    )
  }
  return copyLog(fileStorage(filename), target)
}

/**
 * Copies every event of a PostgreSQL log into a new NDJSON log file (flushed
 * to disk), each line `JSON.stringify({ ...event, index })` with its index
 * kept, and resolves with the number of events copied. Rejects, writing
 * nothing, when the file already holds events.
 */
export async function exportLog(options: TransferOptions): Promise<number> {
  const filename = checkFilename(options, 'exportLog()')
  const size = await stat(filename).then(
    (stats) => stats.size,
    () => 0,
  )
  if (size > 0) {
    throw new TinyEventSourcingError(
      'TARGET_NOT_EMPTY',
      `${resolve(filename)} already exists (${size} bytes); export into a new file so that every event keeps its index`,
    )
  }
  return copyLog(postgresStorage(options), fileStorage(filename, { fsync: true }))
}

function checkFilename(options: TransferOptions, what: string): string {
  if (typeof options?.filename !== 'string' || options.filename === '') {
    throw usageError(`${what} needs { filename: "path/to/log.ndjson" } as well as the PostgreSQL log's { log } and { pool } or { connectionString }`)
  }
  return options.filename
}

/**
 * Appends the source's events to the empty target in batches. The source is
 * read through once first, so that a damaged one is reported before
 * anything is written. Each batch names the target's last index it expects,
 * so a writer that sneaks in during the copy makes it fail instead of
 * shifting the indices.
 */
async function copyLog(source: LogStorage, target: LogStorage): Promise<number> {
  await source.open({ readOnly: true })
  try {
    for await (const _batch of source.read(0)) {
      // Only checking that every event can be read.
    }
    const held = await target.open()
    try {
      if (held > 0) {
        throw new TinyEventSourcingError(
          'TARGET_NOT_EMPTY',
          `${target.name} already holds ${held} events; copy into a new, empty log so that every event keeps its index`,
        )
      }
      let copied = 0
      for await (const batch of source.read(0)) {
        const records = batch.map(({ index: _index, ...event }) => JSON.stringify(event))
        const first = await target.append(records, { expectedLastIndex: copied - 1 })
        if (first !== batch[0]!.index) {
          throw new TinyEventSourcingError(
            'COPY_FAILED',
            `${target.name} gave index ${first} to event ${batch[0]!.index} of ${source.name}; the copy stopped there`,
          )
        }
        copied += records.length
      }
      return copied
    } finally {
      await target.close()
    }
  } finally {
    await source.close()
  }
}
