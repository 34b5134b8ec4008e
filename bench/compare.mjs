// Measures what a change bought: builds the library at each git revision
// given and runs the same scenarios against every build, interleaved.
//   node bench/compare.mjs <rev> <rev>... --scenario=replay:lib --params='{"count":100000}' [--reps=5]
// Scenarios that need a log file get one of `count` events, made once.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeLogFile } from './workload.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))
const root = join(here, '..')
const args = process.argv.slice(2)
const option = (name, fallback) => args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
const revisions = args.filter((arg) => !arg.startsWith('--'))
const scenarios = option('scenario', 'replay:lib').split(',')
const params = JSON.parse(option('params', '{"count":100000}'))
const reps = Number(option('reps', '5'))

const work = mkdtempSync(join(os.tmpdir(), 'tiny-es-compare-'))
const builds = revisions.map((revision) => {
  const sha = execFileSync('git', ['rev-parse', '--short', revision], { cwd: root, encoding: 'utf8' }).trim()
  const dir = join(work, sha)
  execFileSync('sh', ['-c', `mkdir -p ${dir} && git archive ${sha} | tar -x -C ${dir}`], { cwd: root })
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  execFileSync(join(root, 'node_modules/.bin/tsup'), ['--silent', '--no-dts'], { cwd: dir, stdio: 'ignore' })
  return { revision, sha, library: join(dir, 'dist/index.js') }
})
const logFile = join(work, 'log.ndjson')
await writeLogFile(logFile, params.count)

for (const scenario of scenarios) {
  const best = new Map()
  for (let rep = 0; rep < reps; rep++) {
    for (const build of builds) {
      const file = scenario.startsWith('replay') || scenario.startsWith('after') ? logFile : join(work, `out-${rep}.ndjson`)
      const child = spawnSync(process.execPath, ['--expose-gc', join(here, 'scenario.mjs'), scenario, JSON.stringify({ ...params, file })], {
        env: { ...process.env, BENCH_LIBRARY: build.library },
        encoding: 'utf8',
      })
      if (file !== logFile) rmSync(file, { force: true })
      if (child.status !== 0) throw new Error(`${scenario} at ${build.sha}: ${child.stderr}`)
      const result = JSON.parse(child.stdout.trim().split('\n').pop())
      const previous = best.get(build.sha)
      const score = (r) => r.p50 ?? r.ms
      if (!previous || score(result) < score(previous)) best.set(build.sha, result)
    }
  }
  for (const build of builds) {
    const r = best.get(build.sha)
    const parts = [`${scenario} @ ${build.revision} (${build.sha})`, `${r.ms.toFixed(1)} ms`]
    if (r.cpuMs !== undefined) parts.push(`${r.cpuMs.toFixed(0)} ms CPU`)
    if (r.rss !== undefined) parts.push(`RSS +${(r.rss / 2 ** 20).toFixed(1)} MB`)
    if (r.p50 !== undefined) parts.push(`p50 ${(r.p50 * 1000).toFixed(1)} µs, p99 ${(r.p99 * 1000).toFixed(1)} µs`)
    if (r.count) parts.push(`${Math.round((r.count / r.ms) * 1000).toLocaleString('en-US')} ev/s`)
    console.log(parts.join(' · '))
  }
}
rmSync(work, { recursive: true, force: true })
