import { stat } from 'node:fs/promises'
import type { InitLogOptions, Log } from '../core/log.js'
import { initLog } from '../index.js'
import type { Indexed } from '../core/log-storage.js'
import type { EventFilter } from '../core/filter.js'
import { UsageError } from './command.js'
import { loadModule } from './load-module.js'

type StoredEvent = Indexed<Record<string, unknown>>

/** The `--upcast <module>` option shared by the commands that read events. */
export const upcastOption = { upcast: { type: 'string' } } as const

/** Help text of `--upcast`, the same in every command that has it. */
export const upcastHelp = `      --upcast <module>  Read events through an upcast function: the module's
                         default export (or its export named "upcast"), as in
                         initLog({ upcast }); the file is not changed`

/** Fails with a plain message when `filename` is not a file, before the library is asked to open it. */
export async function assertFile(filename: string, what: string): Promise<void> {
  let stats: Awaited<ReturnType<typeof stat>>
  try {
    stats = await stat(filename)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${filename}: no such file; give the path of ${what}`)
    throw error
  }
  if (!stats.isFile()) throw new Error(`${filename} is not a file; give the path of ${what}`)
}

async function loadUpcast(modulePath: string): Promise<NonNullable<InitLogOptions['upcast']>> {
  const loaded = await loadModule(modulePath, '--upcast', 'a JavaScript module exporting an upcast function')
  const upcast = typeof loaded.default === 'function' ? loaded.default : loaded.upcast
  if (typeof upcast !== 'function') {
    throw new UsageError(`--upcast ${modulePath} must export a function (export default function upcast(stored) { … })`)
  }
  return upcast as NonNullable<InitLogOptions['upcast']>
}

/**
 * Opens a log file the way a follower does (read-only, no lock, the file
 * left untouched), through the library itself, so the command line reads
 * exactly what `initLog` reads.
 */
export async function openLogForReading(filename: string, upcastModule: string | undefined): Promise<Log<Record<string, unknown>>> {
  const upcast = upcastModule === undefined ? undefined : await loadUpcast(upcastModule)
  await assertFile(filename, 'an NDJSON log file')
  return initLog({ filename, readOnly: true, upcast })
}

/**
 * The events stored now, from `after + 1` up to `last` (default: the last
 * one), then the iteration ends instead of waiting for appends. With a
 * `filter`, only the events it selects, read as `log.events({ types, where })`
 * reads them (a storage may skip the others without parsing them).
 */
export async function* eventsStoredNow(
  log: Log<Record<string, unknown>>,
  after = -1,
  last = log.length - 1,
  filter: EventFilter = {},
): AsyncGenerator<StoredEvent> {
  const end = Math.min(last, log.length - 1)
  if (end <= after) return
  yield* log.events({ ...filter, after, until: end })
}
