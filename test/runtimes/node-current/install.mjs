// The root package's `prepare` script (run by `npm install` and `npm ci` in a clone):
// installs the current Node release from the npm registry into this folder, from its
// lock file, unless it is already there. test/runtimes/flow.test.ts runs on it.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const lock = JSON.parse(readFileSync(new URL('package-lock.json', import.meta.url), 'utf8'))
const name = `node-${process.platform}-${process.arch}`
const wanted = lock.packages[`node_modules/${name}`]
if (wanted === undefined) {
  const offered = Object.keys(lock.packages[''].optionalDependencies).join(', ')
  console.warn(
    `No current Node for ${process.platform}-${process.arch} in the npm registry (test/runtimes/node-current offers ${offered}): test/runtimes runs on Node ${process.versions.node}, Bun and Deno only.`,
  )
  process.exit(0)
}
const manifest = new URL(`node_modules/${name}/package.json`, import.meta.url)
if (!existsSync(manifest) || JSON.parse(readFileSync(manifest, 'utf8')).version !== wanted.version) {
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--prefix', here], { stdio: 'inherit' })
}
