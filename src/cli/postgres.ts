import { exportLog, importLog } from '../postgres/transfer.js'
import { stringOption, UsageError, type Command, type OptionValues } from './command.js'
import { formatCount } from './format.js'
import { assertFile } from './read-log.js'

/** The options both commands take to reach the database. */
const databaseOptions = {
  database: { type: 'string', short: 'd' },
  schema: { type: 'string' },
} as const

const databaseHelp = `  -d, --database <url>   The PostgreSQL database, postgres://user:password@host:5432/db
                         (default: the DATABASE_URL environment variable)
      --schema <name>    The schema holding the tables (default: tiny_event_sourcing)
It needs the "pg" package installed next to this one (npm install pg).`

function connection(values: OptionValues): { connectionString: string; schema?: string } {
  const connectionString = stringOption(values, 'database') ?? process.env.DATABASE_URL
  if (connectionString === undefined || connectionString === '') {
    throw new UsageError('which database? Give --database postgres://user:password@host:5432/db, or set DATABASE_URL')
  }
  const schema = stringOption(values, 'schema')
  return schema === undefined ? { connectionString } : { connectionString, schema }
}

/** `import <file> <log>`: an NDJSON log file into an empty PostgreSQL log. */
export const importCommand: Command = {
  name: 'import',
  summary: 'copy a log file into a new PostgreSQL log, keeping every index',
  usage: '<file> <log> [--database <url>] [--schema <name>]',
  positionals: ['file', 'log'],
  options: databaseOptions,
  help: `Copies every event of the NDJSON log <file> into the PostgreSQL log named
<log>, which must be empty (or new), keeping each event's index. The whole
file is read first: a damaged one is reported and nothing is copied. The file
is only read, so a process may still be writing it; stop it first to copy
everything. The tables are created if missing.

${databaseHelp}

Example:
  tiny-event-sourcing import data/log.ndjson bookmarks --database postgres://localhost/app`,

  async run({ values, positionals, out }) {
    const [filename, log] = positionals as [string, string]
    await assertFile(filename, 'an NDJSON log file')
    const copied = await importLog({ ...connection(values), log, filename })
    await out.write(`${filename}: ${formatCount(copied)} events copied into the PostgreSQL log "${log}"\n`)
    return 0
  },
}

/** `export <log> <file>`: a PostgreSQL log into a new NDJSON log file. */
export const exportCommand: Command = {
  name: 'export',
  summary: 'copy a PostgreSQL log into a new log file, keeping every index',
  usage: '<log> <file> [--database <url>] [--schema <name>]',
  positionals: ['log', 'file'],
  options: databaseOptions,
  help: `Copies every event of the PostgreSQL log named <log> into <file>, a new NDJSON
log file (an existing file is refused, not overwritten), each line exactly as
initLog({ filename }) writes it, index included. The file is flushed to disk
before the command ends.

${databaseHelp}

Example:
  tiny-event-sourcing export bookmarks data/log.ndjson --database postgres://localhost/app`,

  async run({ values, positionals, out }) {
    const [log, filename] = positionals as [string, string]
    const copied = await exportLog({ ...connection(values), log, filename })
    await out.write(`${filename}: ${formatCount(copied)} events copied from the PostgreSQL log "${log}"\n`)
    return 0
  },
}
