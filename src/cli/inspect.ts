import { stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { listOption, stringOption, UsageError, wholeNumberOption, type Command } from './command.js'
import { findLogIn, findStateFiles } from './data-folder.js'
import { formatCount, plural } from './format.js'
import { LogIndex } from './inspect/log-index.js'
import { ReadModels } from './inspect/read-models.js'
import { startInspectServer } from './inspect/server.js'
import { assertFile, openLogForReading, upcastHelp, upcastOption } from './read-log.js'
import { loadReducer } from './replay.js'

/** The log to inspect and where its state files are: a log file, or a data folder holding one. */
async function locate(target: string): Promise<{ logFile: string; folder: string }> {
  let info: Awaited<ReturnType<typeof stat>>
  try {
    info = await stat(target)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`${target}: no such file or folder; give the path of a log file or of the folder that holds it`)
    throw error
  }
  if (!info.isDirectory()) return { logFile: target, folder: dirname(target) }
  const logFile = await findLogIn(target)
  if (logFile === undefined) throw new Error(`${target} holds no log (an .ndjson file); give the path of the log file`)
  return { logFile, folder: target }
}

/** `inspect [log or folder]`: a local, read-only web page on a log and its read models. */
export const inspect: Command = {
  name: 'inspect',
  summary: 'look at a log and its read models in a local web page: timeline, field catalogue, events, states',
  usage: '[log file or data folder] [--port N] [--state FILE]... [--try MODULE] [--upcast <module>]',
  positionals: [],
  optionalPositionals: ['log file or data folder'],
  options: {
    port: { type: 'string' },
    state: { type: 'string', multiple: true },
    try: { type: 'string' },
    ...upcastOption,
  },
  help: `Serves a web page about a log (default: the log in ./data) and prints its URL:
a timeline of the events of each type (zoom by dragging, and the events of the
range are listed), the field catalogue of stats with when each field was first
and last seen, an event browser (by type, field value, time or index, with the
events each one caused and was caused by), and the read models' state files
(version, how far behind the log, size, and the state as a tree). The page
follows the log as it grows.

It is safe to run beside a service: it listens on 127.0.0.1 only, the URL
carries a secret token without which every request gets 403, and it opens the
log as a read-only follower does: it writes nothing, neither the log nor a
state file. It runs until interrupted (Ctrl-C).

      --port <N>         Listen on port N (default: a free port)
      --state <FILE>     A state file to show (repeatable; default: the state
                         files { "_version": N, … } beside the log)
      --try <MODULE>     A reducer module (as for \`try\`): each read model gets a
                         button that replays the log through it, in memory, and
                         shows what it would add, remove and change
${upcastHelp}

Example:
  tiny-event-sourcing inspect data/`,

  async run({ values, positionals, out }) {
    const port = wholeNumberOption(values, 'port') ?? 0
    if (port > 65_535) throw new UsageError(`--port expects a port number up to 65535, got ${port}`)
    const { logFile, folder } = await locate(positionals[0] ?? 'data')
    const given = listOption(values, 'state')
    for (const file of given) await assertFile(file, 'a state file ({ "_version": N, "state": … })')
    const stateFiles = given.length > 0 ? given : (await findStateFiles(folder)).filter((file) => resolve(file) !== resolve(logFile))
    const tryPath = stringOption(values, 'try')
    const tryModule = tryPath === undefined ? undefined : { name: tryPath, reducer: await loadReducer(tryPath) }
    const upcast = stringOption(values, 'upcast')
    const log = await openLogForReading(logFile, upcast)
    const stop = new AbortController()
    // Upcast events may have other types than their lines say: then the log alone reads them.
    const index = new LogIndex(log, stop.signal, upcast === undefined ? logFile : undefined)
    let server: Awaited<ReturnType<typeof startInspectServer>> | undefined
    try {
      server = await startInspectServer({ index, readModels: new ReadModels(stateFiles), logFile, port, ...(tryModule ? { tryModule } : {}) })
      const models = stateFiles.length === 0 ? 'no read model' : plural(stateFiles.length, 'read model', 'read models')
      await out.write(
        `Inspecting ${logFile} (${formatCount(log.length)} ${log.length === 1 ? 'event' : 'events'}) and ${models}, read-only.\n` +
          `Open ${server.url}\n` +
          'Only this machine can reach it, and only with the token. Ctrl-C stops.\n',
      )
      await out.flush()
      await new Promise<void>((resolve) => {
        const done = () => resolve()
        process.once('SIGINT', done)
        process.once('SIGTERM', done)
        out.gone.addEventListener('abort', done)
      })
    } finally {
      await server?.close()
      stop.abort()
      await log.close()
    }
    return 0
  },
}
