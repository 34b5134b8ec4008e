// `npm run bench` runs this first: it installs the peers into bench/peers/node_modules
// from bench/peers/package-lock.json when they are missing or differ from the lock file.
// The root `npm install` never installs them (better-sqlite3 compiles native code).
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const lock = JSON.parse(readFileSync(new URL('package-lock.json', import.meta.url), 'utf8'))
const wanted = Object.keys(lock.packages[''].dependencies)
const installed = (name) => {
  const file = new URL(`node_modules/${name}/package.json`, import.meta.url)
  return existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).version === lock.packages[`node_modules/${name}`].version
}
const missing = wanted.filter((name) => !installed(name))
if (missing.length > 0) {
  process.stderr.write(`installing the benchmark's peers into bench/peers (${missing.join(', ')}); better-sqlite3 may compile for a minute\n`)
  try {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--prefix', here], { stdio: 'inherit' })
  } catch {
    process.stderr.write(
      'could not install the peers: run `npm ci --prefix bench/peers` and read its error (better-sqlite3 needs python3, make and a C++ compiler when no prebuilt binary fits)\n',
    )
    process.exit(1)
  }
}
