/** Loads the user's own module (a reducer, an upcaster) by path: JavaScript always, TypeScript where Node strips types. */
import { extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { assertFile } from './read-log.js'

const typeScriptExtensions = new Set(['.ts', '.mts', '.cts'])

/** How to run a TypeScript module on a Node that cannot load one. */
function typeScriptRemedy(modulePath: string): string {
  return (
    `Node ${process.version} cannot load TypeScript (${modulePath}) by itself. ` +
    'Node 22.18 or later strips types on its own; on Node 22.6 to 22.17 put NODE_OPTIONS=--experimental-strip-types ' +
    'before the command; on older Node compile the module to JavaScript (npx tsc) and give the .js file, ' +
    'or run the command through a TypeScript loader: node --import tsx ./node_modules/.bin/tiny-event-sourcing …'
  )
}

/** The module's exports; `option` names it in messages (`--upcast`, or `try`), `what` says what it should be. */
export async function loadModule(modulePath: string, option: string, what: string): Promise<Record<string, unknown>> {
  await assertFile(modulePath, what)
  const isTypeScript = typeScriptExtensions.has(extname(modulePath))
  try {
    return (await import(pathToFileURL(resolve(modulePath)).href)) as Record<string, unknown>
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (isTypeScript && (code === 'ERR_UNKNOWN_FILE_EXTENSION' || code === 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING')) {
      throw new Error(typeScriptRemedy(modulePath), { cause: error })
    }
    throw new Error(`${option} ${modulePath} could not be loaded: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
}
