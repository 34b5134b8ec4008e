import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'

/**
 * The built package's ESM entry as a file URL, for child processes (which
 * run plain Node, not TypeScript). `npm test` builds before testing.
 */
export function distEntry(): string {
  const entry = fileURLToPath(new URL('../../dist/index.js', import.meta.url))
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first (npm test does)`)
  return pathToFileURL(entry).href
}
