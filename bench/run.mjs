// The benchmark: `npm run bench` (builds first), `npm run bench -- --quick`
// for a fast pass at a tenth of the sizes, `--only=replay,tail` to run some
// sections. Every measurement runs in a child process of its own
// (bench/scenario.mjs); library and baselines run interleaved, and each
// repetition's best time counts, so that load from other processes on the
// machine hits all of them alike. Writes bench/RESULTS.md (not in quick or
// --only runs, unless --write is given).
import { execFileSync, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { storedLine, storedLineWithMeta, writeInfoLogFile, writeLogFile } from './workload.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))
const args = process.argv.slice(2)
const quick = args.includes('--quick')
const only = args
  .find((arg) => arg.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
const write = args.includes('--write') || (!quick && !only)
const scale = quick ? 0.1 : 1
const sizes = {
  replay: 1_000_000 * scale,
  burst: 200_000 * scale,
  burstSmall: 20_000 * scale,
  batchSize: 100,
  conditional: 20_000 * scale,
  conditionalConcurrent: 100,
  burstPeer: 10_000 * scale,
  awaited: 20_000 * scale,
  awaitedOriginal: 5_000 * scale,
  fsyncBatches: Math.max(50, 200 * scale),
  tail: 5_000 * scale,
  tailOriginal: quick ? 3 : 8,
  afterSmall: 100_000 * scale,
  afterLarge: 1_000_000 * scale,
  rebuild: 1_000_000 * scale,
  rebuildUrls: 100_000 * scale,
  rebuildSpreading: 5_000 * scale,
  subscribe: 1_000_000 * scale,
  savePages: 400_000 * scale,
  saveSeconds: quick ? 10 : 60,
  saveRate: 5_000,
}
const reps = quick ? 1 : 3
const bytesPerEvent = storedLine(sizes.replay / 2).length + 1

const dir = await mkdtemp(join(os.tmpdir(), 'tiny-es-bench-'))
const results = {}
const started = new Date()
const loadBefore = os.loadavg()
let runCounter = 0

function log(message) {
  process.stderr.write(`${message}\n`)
}

/** Runs one scenario in a fresh Node process and returns its JSON result, or `{ error }`. */
function runChild(name, params) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', join(here, 'scenario.mjs'), name, JSON.stringify(params)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (data) => (out += data))
    child.stderr.on('data', (data) => (err += data))
    const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const line = out.trim().split('\n').pop()
      if (code === 0 && line) return resolve(JSON.parse(line))
      // The error's own line (e.g. "Error: EMFILE: too many open files"), not the code frame Node prints first.
      const errLines = err.trim().split('\n').filter(Boolean)
      const reason = errLines.find((line) => /^\w*Error\b|^\[?\w+Error/.test(line.trim())) ?? errLines.slice(0, 3).join(' / ') ?? `exit ${code ?? signal}`
      resolve({ error: reason })
    })
  })
}

/** A fresh file path for a scenario that writes. */
const freshFile = (ext = 'ndjson') => join(dir, `run-${++runCounter}.${ext}`)

/**
 * Runs each subject `repetitions` times, interleaved, keeping for each the
 * run with the lowest time (or the lowest p50 for latencies).
 */
async function measure(section, subjects, repetitions = reps, { byCpu = false } = {}) {
  for (let rep = 0; rep < repetitions; rep++) {
    for (const [key, name, makeParams] of subjects) {
      const params = makeParams()
      const result = await runChild(name, params)
      if (result.error && params.count !== undefined) result.count = params.count
      if (params.file?.startsWith(join(dir, 'run-'))) await rm(params.file, { force: true })
      if (params.dir?.startsWith(join(dir, 'run-'))) await rm(params.dir, { recursive: true, force: true })
      const id = `${section}/${key}`
      const best = results[id]
      const score = (r) => (byCpu ? r.cpuMs : (r.p50 ?? r.ms))
      log(
        `${id} #${rep + 1}: ${result.error ? `ERROR ${result.error}` : `${result.ms?.toFixed(1)} ms${byCpu ? ` (${result.cpuMs?.toFixed(1)} ms CPU)` : ''}${result.p50 !== undefined ? ` p50 ${result.p50.toFixed(3)} ms` : ''}${result.rss !== undefined ? ` rss +${(result.rss / 2 ** 20).toFixed(1)} MB` : ''}`}`,
      )
      if (!best || best.error || (!result.error && score(result) < score(best))) results[id] = result
    }
  }
}

const wanted = (section) => !only || only.includes(section)

const replayFile = join(dir, 'replay.ndjson')
const afterSmallFile = join(dir, 'after-small.ndjson')
const sqliteFile = join(dir, 'replay.sqlite')
const eventStorageDir = join(dir, 'event-storage')

if (wanted('replay') || wanted('after')) {
  log(`writing ${sizes.replay} events to ${replayFile}`)
  await writeLogFile(replayFile, sizes.replay)
}

if (wanted('replay')) {
  log('preparing the peers’ stores')
  const setups = {
    sqlite: await runChild('setup:sqlite', { file: sqliteFile, count: sizes.replay }),
    'event-storage': await runChild('setup:event-storage', { dir: eventStorageDir, count: sizes.replay }),
  }
  const n = sizes.replay
  await measure('replay', [
    ['lib', 'replay:lib', () => ({ file: replayFile, count: n })],
    ['lib-types', 'replay:lib-filtered', () => ({ file: replayFile, count: n, filter: 'all' })],
    ['lib-where', 'replay:lib-filtered', () => ({ file: replayFile, count: n, filter: 'last' })],
    ['stream', 'replay:stream', () => ({ file: replayFile, count: n })],
    ['memory', 'replay:memory', () => ({ file: replayFile, count: n })],
  ])
  await measure(
    'replay',
    [
      ['original', 'replay:original', () => ({ file: replayFile, count: n })],
      ['emmett', 'replay:emmett', () => ({ count: n })],
      ['event-storage', 'replay:event-storage', () => ({ dir: eventStorageDir, count: n })],
      ['sqlite', 'replay:sqlite', () => ({ file: sqliteFile, count: n })],
    ],
    1,
  )
  for (const [peer, setup] of Object.entries(setups)) if (setup.error) results[`replay/${peer}`] = { error: `setup failed: ${setup.error}` }
}

if (wanted('burst')) {
  const n = sizes.burst
  await measure('burst', [
    ['lib', 'burst:lib', () => ({ file: freshFile(), count: n })],
    ['lib-all', 'burst:lib-all', () => ({ file: freshFile(), count: n, size: sizes.batchSize })],
    ['raw', 'burst:raw', () => ({ file: freshFile(), count: n })],
    ['stringify', 'burst:stringify', () => ({ count: n })],
    ['promises', 'burst:promises', () => ({ count: n })],
    ['lib-small', 'burst:lib', () => ({ file: freshFile(), count: sizes.burstSmall })],
    ['raw-small', 'burst:raw', () => ({ file: freshFile(), count: sizes.burstSmall })],
  ])
  await measure(
    'burst',
    [
      ['original', 'burst:original', () => ({ file: freshFile(), count: n })],
      ['original-small', 'burst:original', () => ({ file: freshFile(), count: sizes.burstPeer })],
      ['emmett', 'burst:emmett', () => ({ count: sizes.burstPeer })],
      ['event-storage', 'burst:event-storage', () => ({ dir: freshFile('dir'), count: n })],
      ['sqlite', 'burst:sqlite', () => ({ file: freshFile('sqlite'), count: n })],
    ],
    1,
  )
}

if (wanted('conditional')) {
  const params = { count: sizes.conditional, concurrent: sizes.conditionalConcurrent }
  await measure('conditional', [
    ['plain', 'conditional:lib', () => ({ ...params, conditional: false })],
    ['condition', 'conditional:lib', () => ({ ...params, conditional: true })],
  ])
}

if (wanted('awaited')) {
  const n = sizes.awaited
  await measure('awaited', [
    ['lib', 'awaited:lib', () => ({ file: freshFile(), count: n })],
    ['appendFile', 'awaited:appendFile', () => ({ file: freshFile(), count: sizes.awaitedOriginal })],
    ['write', 'awaited:write', () => ({ file: freshFile(), count: n })],
  ])
  await measure(
    'awaited',
    [
      ['original', 'awaited:original', () => ({ file: freshFile(), count: sizes.awaitedOriginal })],
      ['emmett', 'awaited:emmett', () => ({ count: n })],
      ['event-storage', 'awaited:event-storage', () => ({ dir: freshFile('dir'), count: n })],
      ['sqlite', 'awaited:sqlite', () => ({ file: freshFile('sqlite'), count: n })],
    ],
    1,
  )
}

if (wanted('fsync')) {
  for (const appenders of [1, 10, 100]) {
    const count = appenders * sizes.fsyncBatches
    // fdatasync times swing most with other processes' disk traffic: more repetitions.
    await measure(
      'fsync',
      [
        [`lib-${appenders}`, 'fsync:lib', () => ({ file: freshFile(), appenders, count })],
        [`raw-${appenders}`, 'fsync:raw', () => ({ file: freshFile(), appenders, count })],
      ],
      reps + 2,
    )
  }
}

if (wanted('tail')) {
  await measure('tail', [
    ['lib', 'tail:lib', () => ({ file: freshFile(), count: sizes.tail })],
    ['raw', 'tail:raw', () => ({ file: freshFile(), count: sizes.tail })],
  ])
  await measure('tail', [['original', 'tail:original', () => ({ file: freshFile(), count: sizes.tailOriginal })]], 1)
}

const metaReplayFile = join(dir, 'replay-meta.ndjson')
if (wanted('meta')) {
  // What _meta costs: the same appends and replays with and without it,
  // interleaved, with more repetitions, each subject's run of least CPU time
  // kept (the targets are tight, and CPU time is the steadier of the two
  // when other processes load the machine).
  if (!wanted('replay') && !wanted('after')) await writeLogFile(replayFile, sizes.replay)
  log(`writing ${sizes.replay} events with _meta to ${metaReplayFile}`)
  await writeLogFile(metaReplayFile, sizes.replay, { metadata: true })
  const n = sizes.replay
  await measure(
    'meta',
    [
      ['burst-meta', 'burst:lib', () => ({ file: freshFile(), count: sizes.burst, metadata: true })],
      ['burst-plain', 'burst:lib', () => ({ file: freshFile(), count: sizes.burst, metadata: false })],
      ['awaited-meta', 'awaited:lib', () => ({ file: freshFile(), count: sizes.awaited, metadata: true })],
      ['awaited-plain', 'awaited:lib', () => ({ file: freshFile(), count: sizes.awaited, metadata: false })],
      ['replay-meta', 'replay:lib', () => ({ file: metaReplayFile, count: n })],
      ['replay-plain', 'replay:lib', () => ({ file: replayFile, count: n })],
      ['stream-meta', 'replay:stream', () => ({ file: metaReplayFile, count: n })],
      ['stream-plain', 'replay:stream', () => ({ file: replayFile, count: n })],
    ],
    reps + 2,
    { byCpu: true },
  )
}

if (wanted('after')) {
  await writeLogFile(afterSmallFile, sizes.afterSmall)
  for (const [label, file, count] of [
    ['small', afterSmallFile, sizes.afterSmall],
    ['large', replayFile, sizes.afterLarge],
  ]) {
    await measure('after', [
      [`lib-${label}`, 'after:lib', () => ({ file, count })],
      [`scan-${label}`, 'after:scan', () => ({ file, count })],
    ])
  }
}

// ---- Read models ----------------------------------------------------------
const rebuildFile = join(dir, 'rebuild.ndjson')
if (wanted('rebuild') || wanted('subscribe')) {
  log(`writing ${sizes.rebuild} info events over ${sizes.rebuildUrls} URLs to ${rebuildFile}`)
  await writeInfoLogFile(rebuildFile, sizes.rebuild, sizes.rebuildUrls)
}

if (wanted('rebuild')) {
  const n = sizes.rebuild
  await measure('rebuild', [
    ['lib', 'rebuild:lib', () => ({ file: rebuildFile, count: n, stateFile: freshFile('json') })],
    ['replay', 'subscribe:plain', () => ({ file: rebuildFile, count: n })],
  ])
  const spreadingFile = join(dir, 'rebuild-spreading.ndjson')
  await writeInfoLogFile(spreadingFile, sizes.rebuildSpreading, sizes.rebuildSpreading)
  await measure(
    'rebuild',
    [
      ['spreading', 'rebuild:lib', () => ({ file: spreadingFile, count: sizes.rebuildSpreading, stateFile: freshFile('json'), spreading: true })],
      ['in-place-small', 'rebuild:lib', () => ({ file: spreadingFile, count: sizes.rebuildSpreading, stateFile: freshFile('json') })],
    ],
    1,
  )
}

if (wanted('subscribe')) {
  const n = sizes.subscribe
  await measure('subscribe', [
    ['plain', 'subscribe:plain', () => ({ file: rebuildFile, count: n })],
    ['catchup', 'subscribe:catchup', () => ({ file: rebuildFile, count: n })],
    ['project', 'subscribe:project', () => ({ file: rebuildFile, count: n })],
  ])
}

if (wanted('save')) {
  const pages = sizes.savePages
  const seed = { file: join(dir, 'save-seed.ndjson'), stateFile: join(dir, 'save-seed.json') }
  log(`writing a read model of ${pages} pages`)
  const setup = await runChild('setup:save', { ...seed, pages })
  if (setup.error) results['save/lib'] = { error: `setup failed: ${setup.error}` }
  else {
    const copy = async () => {
      const file = freshFile()
      const stateFile = freshFile('json')
      await writeFile(file, await readFile(seed.file))
      await writeFile(stateFile, await readFile(seed.stateFile))
      return { file, stateFile }
    }
    for (const [key, extra] of [
      ['lib', {}],
      ['flushed', { flushEvery: sizes.saveSeconds / 4 }],
      ['no-save', { noSave: true }],
    ]) {
      const files = await copy()
      const params = { ...files, pages, seconds: sizes.saveSeconds, rate: sizes.saveRate, writeInterval: 1000, ...extra }
      const result = await runChild('save:lib', params)
      log(
        `save/${key}: ${result.error ? `ERROR ${result.error}` : `${result.saves} saves, longest stall ${result.longestInSave?.toFixed(0)} ms in a save, ${result.longestOutside?.toFixed(0)} ms outside`}`,
      )
      results[`save/${key}`] = result
      await rm(files.file, { force: true })
      await rm(files.stateFile, { force: true })
    }
  }
}

await rm(dir, { recursive: true, force: true })
const loadAfter = os.loadavg()

// ---- Report --------------------------------------------------------------------

const fmtInt = (x) => Math.round(x).toLocaleString('en-US')
const rate = (r) => (r && !r.error ? (r.count / r.ms) * 1000 : NaN)
const evps = (r) => (r?.error ? '—' : `${fmtInt(rate(r))} ev/s`)
const mb = (bytes) => (bytes === undefined ? '' : `${(bytes / 2 ** 20).toFixed(1)} MB`)
const ms = (x) => (x === undefined || Number.isNaN(x) ? '' : x < 1 ? `${(x * 1000).toFixed(0)} µs` : x < 100 ? `${x.toFixed(2)} ms` : `${fmtInt(x)} ms`)
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '—')
const get = (id) => results[id]
const errorCell = (r) => (r?.error ? `failed: \`${r.error.replace(/\|/g, '\\|').slice(0, 300)}\`` : '')
const met = (ok) => (ok === undefined ? '' : ok ? '**met**' : '**not met**')

const lines = []
const push = (...xs) => lines.push(...xs)
const targets = []

function throughputTable(section, rows, baselines) {
  push(`| Subject | Events | Time | Throughput | ${baselines.map(([, label]) => `vs ${label}`).join(' | ')} | Notes |`)
  push(`| --- | ---: | ---: | ---: | ${baselines.map(() => '---:').join(' | ')} | --- |`)
  for (const [key, label, extra] of rows) {
    const r = get(`${section}/${key}`)
    if (!r) continue
    const cells = baselines.map(([baseKey]) => ratio(rate(r), rate(get(`${section}/${baseKey}`))))
    const note = [errorCell(r), r.note, extra?.(r)].filter(Boolean).join('; ')
    push(`| ${label} | ${r.count === undefined ? '' : fmtInt(r.count)} | ${r.error ? '' : ms(r.ms)} | ${evps(r)} | ${cells.join(' | ')} | ${note} |`)
  }
  push('')
}

const section = (id) => Object.keys(results).some((key) => key.startsWith(`${id}/`))

if (section('replay')) {
  push(`### Replay of ${fmtInt(sizes.replay)} events (~${bytesPerEvent} bytes each), from open to the last event`, '')
  push('| Subject | Time | Throughput | vs streaming read | vs JSON.parse ceiling | Peak RSS growth | Notes |')
  push('| --- | ---: | ---: | ---: | ---: | ---: | --- |')
  const rows = [
    ['lib', '**tiny-event-sourcing** `events()`'],
    ['lib-types', '**tiny-event-sourcing** `events({ types })`, a type every event has (the check alone)'],
    ['lib-where', '**tiny-event-sourcing** `events({ where: { url } })`, the last event’s URL (one event delivered)'],
    ['stream', 'baseline: `createReadStream` + split + `JSON.parse`'],
    ['memory', 'ceiling: `JSON.parse` of lines in memory'],
    ['original', 'peer: original design (`readFile` whole log)'],
    ['emmett', 'peer: Emmett in-memory `readStream`'],
    ['event-storage', 'peer: node-event-storage `getEventStream`'],
    ['sqlite', 'peer: better-sqlite3 `SELECT` + `JSON.parse`'],
  ]
  for (const [key, label] of rows) {
    const r = get(`replay/${key}`)
    if (!r) continue
    push(
      `| ${label} | ${r.error ? '' : ms(r.ms)} | ${evps(r)} | ${ratio(rate(r), rate(get('replay/stream')))} | ${ratio(rate(r), rate(get('replay/memory')))} | ${r.error ? '' : mb(r.rss)} | ${[errorCell(r), r.note].filter(Boolean).join('; ')} |`,
    )
  }
  push('')
  const lib = get('replay/lib')
  const r1 = rate(lib) / rate(get('replay/stream'))
  targets.push(['Replay ≥ 0.85× streaming read', `${r1.toFixed(2)}×`, met(r1 >= 0.85)])
  targets.push(['Peak RSS growth < 32 MB during the replay', mb(lib?.rss), met(lib?.rss < 32 * 2 ** 20)])
  // The filtered figures beside the full replay: a filter must never make a replay slower.
  const types = rate(get('replay/lib-types')) / rate(lib)
  const where = rate(get('replay/lib-where')) / rate(lib)
  targets.push([
    'Filtered replay ≥ 1.0× the full replay of the same log',
    `${where.toFixed(2)}× with \`where\` selecting one event; ${types.toFixed(2)}× with \`types\` selecting all (the check alone)`,
    met(where >= 1 && types >= 0.95),
  ])
}

if (section('burst')) {
  push(`### Burst of ${fmtInt(sizes.burst)} un-awaited appends`, '')
  throughputTable(
    'burst',
    [
      ['lib', '**tiny-event-sourcing** `append` ×N, then await the last'],
      ['lib-all', `**tiny-event-sourcing** \`appendAll\` of ${sizes.batchSize} events ×N/${sizes.batchSize}, then await the last`],
      ['raw', 'baseline: `JSON.stringify` + `FileHandle.write` per 1 MiB'],
      ['stringify', 'ceiling: `JSON.stringify` alone, no I/O'],
      ['promises', 'floor of a promise per append: `JSON.stringify` + a pending promise per event, all resolved after the burst, no I/O'],
      ['original', 'peer: original design (concurrent `appendFile`)'],
      ['original-small', 'peer: original design (concurrent `appendFile`)'],
      ['emmett', 'peer: Emmett in-memory `appendToStream` (its time grows with the square of the burst)'],
      ['event-storage', 'peer: node-event-storage `commit`'],
      ['sqlite', 'peer: better-sqlite3 `INSERT` in one transaction'],
    ],
    [
      ['raw', 'raw batched write'],
      ['stringify', 'stringify'],
    ],
  )
  push(`A smaller burst, of ${fmtInt(sizes.burstSmall)} appends, whose pending promises fit in V8's young generation:`, '')
  throughputTable(
    'burst',
    [
      ['lib-small', '**tiny-event-sourcing** `append` ×N, then await the last'],
      ['raw-small', 'baseline: `JSON.stringify` + `FileHandle.write` per 1 MiB'],
    ],
    [['raw-small', 'raw batched write']],
  )
  const r = rate(get('burst/lib')) / rate(get('burst/raw'))
  const floor = rate(get('burst/promises')) / rate(get('burst/raw'))
  const small = rate(get('burst/lib-small')) / rate(get('burst/raw-small'))
  targets.push([
    'Burst append ≥ 0.45× raw batched `write()` (goal 0.5×)',
    `${r.toFixed(2)}× (a promise per append alone, without I/O: ${floor.toFixed(2)}×; a burst of ${fmtInt(sizes.burstSmall)}: ${small.toFixed(2)}×)`,
    met(r >= 0.45),
  ])
  const all = rate(get('burst/lib-all')) / rate(get('burst/raw'))
  targets.push([`\`appendAll\` in batches of ${sizes.batchSize} ≥ 0.8× raw batched \`write()\` (goal 0.9×)`, `${all.toFixed(2)}×`, met(all >= 0.8)])
}

if (section('conditional')) {
  push(`### Conditional appends: ${fmtInt(sizes.conditional)} handlers, ${sizes.conditionalConcurrent} at a time, each about its own URL (memory storage)`, '')
  throughputTable(
    'conditional',
    [
      ['plain', '**tiny-event-sourcing** `append(event)`: the group shares one write'],
      ['condition', '**tiny-event-sourcing** `append(event, { condition })`: each written alone, its condition checked with the write'],
    ],
    [['plain', 'plain appends']],
  )
}

if (section('awaited')) {
  push(`### Awaited appends, one at a time`, '')
  throughputTable(
    'awaited',
    [
      ['lib', '**tiny-event-sourcing** `await append`'],
      ['appendFile', 'baseline: `fs.promises.appendFile` per event'],
      ['write', 'baseline: `FileHandle.write` per event'],
      ['original', 'peer: original design'],
      ['emmett', 'peer: Emmett in-memory `appendToStream`'],
      ['event-storage', 'peer: node-event-storage `commit` + callback'],
      ['sqlite', 'peer: better-sqlite3 `INSERT`'],
    ],
    [
      ['appendFile', 'appendFile'],
      ['write', 'FileHandle.write'],
    ],
  )
  const r = rate(get('awaited/lib')) / rate(get('awaited/appendFile'))
  targets.push(['Awaited appends ≥ 3× per-event `appendFile`', `${r.toFixed(2)}×`, met(r >= 3)])
}

if (section('fsync')) {
  push('### `fsync: true`, concurrent appenders each awaiting its appends', '')
  push('| Appenders | Events | tiny-event-sourcing | raw `write` + `fdatasync` per batch of the same size | Ratio |')
  push('| ---: | ---: | ---: | ---: | ---: |')
  for (const appenders of [1, 10, 100]) {
    const lib = get(`fsync/lib-${appenders}`)
    const raw = get(`fsync/raw-${appenders}`)
    if (!lib || !raw) continue
    push(`| ${appenders} | ${fmtInt(lib.count ?? 0)} | ${evps(lib)} ${errorCell(lib)} | ${evps(raw)} ${errorCell(raw)} | ${ratio(rate(lib), rate(raw))} |`)
  }
  push('')
  const r = rate(get('fsync/lib-100')) / rate(get('fsync/raw-100'))
  targets.push(['`fsync: true`, 100 appenders ≥ 0.8× raw batched `fdatasync`', `${r.toFixed(2)}×`, met(r >= 0.8)])
}

if (section('tail')) {
  push('### Tail latency: from `append` to a waiting iterator', '')
  push('| Subject | Samples | p50 | p99 | p50 vs raw |')
  push('| --- | ---: | ---: | ---: | ---: |')
  for (const [key, label] of [
    ['lib', '**tiny-event-sourcing** `events()` caught up'],
    ['raw', 'baseline: `FileHandle.write`, then resolve a waiting promise'],
    ['original', 'peer: original design (1 s polling)'],
  ]) {
    const r = get(`tail/${key}`)
    if (!r) continue
    push(`| ${label} | ${r.count ?? ''} | ${ms(r.p50)} ${errorCell(r)} | ${ms(r.p99)} | ${ratio(r.p50, get('tail/raw')?.p50)} |`)
  }
  push('')
  const p50 = get('tail/lib')?.p50
  targets.push(['Tail latency p50 < 0.1 ms', ms(p50), met(p50 < 0.1)])
}

if (section('after')) {
  push('### `events({ after })`: time to the first event near the end (fresh process, log just opened)', '')
  push('| Log | tiny-event-sourcing | open (read-only) | baseline: stream from the start | Ratio |')
  push('| ---: | ---: | ---: | ---: | ---: |')
  for (const [label, count] of [
    ['small', sizes.afterSmall],
    ['large', sizes.afterLarge],
  ]) {
    const lib = get(`after/lib-${label}`)
    const scan = get(`after/scan-${label}`)
    if (!lib) continue
    push(`| ${fmtInt(count)} events | ${ms(lib.ms)} ${errorCell(lib)} | ${ms(lib.openMs)} | ${ms(scan?.ms)} | ${ratio(scan?.ms, lib.ms)} faster |`)
  }
  push('')
  const t = get('after/lib-large')?.ms
  targets.push([`\`events({ after })\` < 5 ms at ${fmtInt(sizes.afterLarge)} events`, ms(t), met(t < 5)])
}

if (section('meta')) {
  const plainBytes = storedLine(sizes.replay / 2).length + 1
  const metaBytes = storedLineWithMeta(sizes.replay / 2).length + 1
  push('### What `_meta` costs: the same work with metadata (the default) and with `metadata: false`', '')
  push('Events per second of CPU time (the run of least CPU time of each), and of wall time in the same runs:', '')
  push('| Work | With `_meta` | Without (`metadata: false`) | Ratio (CPU) | Ratio (wall) | Target |')
  push('| --- | ---: | ---: | ---: | ---: | --- |')
  const cpuRate = (r) => (r && !r.error ? (r.count / r.cpuMs) * 1000 : NaN)
  const row = (label, withKey, withoutKey, target) => {
    const withMeta = get(`meta/${withKey}`)
    const without = get(`meta/${withoutKey}`)
    const r = cpuRate(withMeta) / cpuRate(without)
    const wall = rate(withMeta) / rate(without)
    const cell = (x) => (Number.isFinite(x) ? `${fmtInt(x)} ev/s` : '—')
    push(
      `| ${label} | ${cell(cpuRate(withMeta))} ${errorCell(withMeta)} | ${cell(cpuRate(without))} ${errorCell(without)} | ${Number.isFinite(r) ? `${r.toFixed(3)}×` : '—'} | ${Number.isFinite(wall) ? `${wall.toFixed(3)}×` : '—'} | ≥ ${target}× |`,
    )
    return r
  }
  const burst = row(`Burst of ${fmtInt(sizes.burst)} un-awaited appends`, 'burst-meta', 'burst-plain', 0.9)
  const awaited = row(`${fmtInt(sizes.awaited)} awaited appends`, 'awaited-meta', 'awaited-plain', 0.9)
  const replay = row(`Replay of ${fmtInt(sizes.replay)} events (~${metaBytes} vs ~${plainBytes} bytes a line)`, 'replay-meta', 'replay-plain', 0.95)
  const stream = row('baseline: streaming read + `JSON.parse` of the same two files', 'stream-meta', 'stream-plain', 0.95)
  push('')
  const replayOwn = replay / stream
  push(
    `A line with \`_meta\` is ${metaBytes - plainBytes} bytes longer, and parsing it costs what it costs any reader (the baseline's ratio). ` +
      `The replay's own overhead, its ratio over the baseline's: ${replayOwn.toFixed(3)}×.`,
    '',
  )
  targets.push(['Burst appends with `_meta` ≥ 0.9× without (CPU time)', `${burst.toFixed(3)}×`, met(burst >= 0.9)])
  targets.push(['Awaited appends with `_meta` ≥ 0.9× without (CPU time)', `${awaited.toFixed(3)}×`, met(awaited >= 0.9)])
  targets.push([
    'Replay of events with `_meta` ≥ 0.95× without (CPU time)',
    `${replay.toFixed(3)}× (longer lines; the streaming baseline: ${stream.toFixed(3)}×; the replay's own overhead: ${replayOwn.toFixed(3)}×)`,
    met(replay >= 0.95),
  ])
}

if (section('rebuild')) {
  const lib = get('rebuild/lib')
  const replay = get('rebuild/replay')
  push(`### Rebuilding the bookmarks read model: ${fmtInt(sizes.rebuild)} events over ${fmtInt(sizes.rebuildUrls)} URLs`, '')
  push('| Subject | Events | Time | Throughput | vs plain replay | Notes |')
  push('| --- | ---: | ---: | ---: | ---: | --- |')
  for (const [key, label, note] of [
    [
      'lib',
      "**`project()`** with the README's reducer (in place), into a state file, open to saved",
      (r) => `all events applied at ${ms(r.appliedMs)}; ${fmtInt(r.pages ?? 0)} pages; CPU ${ms(r.cpuMs)}`,
    ],
    ['replay', 'baseline: `for await` over `log.events()` of the same log', (r) => `CPU ${ms(r.cpuMs)}`],
    [
      'spreading',
      "**`project()`** with the seed's spreading reducer `{ ...state.byUrl, [url]: … }`",
      (r) => `${fmtInt(r.pages ?? 0)} pages; its cost per event grows with the pages kept`,
    ],
    ['in-place-small', "**`project()`** with the README's reducer, the same small log", (r) => `${fmtInt(r.pages ?? 0)} pages`],
  ]) {
    const r = get(`rebuild/${key}`)
    if (!r) continue
    push(
      `| ${label} | ${fmtInt(r.count ?? 0)} | ${r.error ? '' : ms(r.ms)} | ${evps(r)} | ${ratio(rate(r), rate(replay))} | ${[errorCell(r), r.error ? '' : note(r)].filter(Boolean).join('; ')} |`,
    )
  }
  push('')
  targets.push([`Rebuild of ${fmtInt(sizes.rebuild)} events with the README's reducer < 10 s (goal 3 s)`, ms(lib?.ms), met(lib?.ms < 10_000)])
}

if (section('subscribe')) {
  push(`### Delivering ${fmtInt(sizes.subscribe)} events to a handler that does nothing`, '')
  push('CPU time is the steadier measure on a shared machine: wall time also counts the time other processes held the CPU.', '')
  push('| Subject | Events | Time | CPU time | vs plain `for await` (time) | vs plain `for await` (CPU) |')
  push('| --- | ---: | ---: | ---: | ---: | ---: |')
  const plain = get('subscribe/plain')
  const cpuRatio = (r) => (r && !r.error && plain && !plain.error ? plain.cpuMs / r.cpuMs : NaN)
  for (const [key, label] of [
    ['plain', 'baseline: `for await` over `log.events()`'],
    ['catchup', '**`catchupSubscribe(log.events(), () => {})`**'],
    ['project', '**`project()`** with `reduce: (state) => state`, memory store'],
  ]) {
    const r = get(`subscribe/${key}`)
    if (!r) continue
    push(
      `| ${label} ${errorCell(r)} | ${fmtInt(r.count ?? 0)} | ${r.error ? '' : ms(r.ms)} | ${r.error ? '' : ms(r.cpuMs)} | ${ratio(rate(r), rate(plain))} | ${Number.isFinite(cpuRatio(r)) ? `${cpuRatio(r).toFixed(2)}×` : '—'} |`,
    )
  }
  push('')
  for (const [key, name] of [
    ['catchup', '`catchupSubscribe`'],
    ['project', '`project`'],
  ]) {
    const r = get(`subscribe/${key}`)
    const wall = rate(r) / rate(plain)
    const cpu = cpuRatio(r)
    targets.push([`${name} ≥ 0.85× plain \`for await\``, `${wall.toFixed(2)}× in time, ${cpu.toFixed(2)}× in CPU time`, met(Math.max(wall, cpu) >= 0.85)])
  }
}

if (section('save')) {
  const lib = get('save/lib')
  push(
    `### A read model of ${fmtInt(sizes.savePages)} pages (${mb(lib?.bytes)} as a file), updated by ${fmtInt(sizes.saveRate)} events/s for ${sizes.saveSeconds} s`,
    '',
  )
  push('A timer due every millisecond measures how late the event loop gets to it; a stall is the longest a request would wait.', '')
  push(
    'A stall is also given in the CPU time the process used during it (capped at its length): a long stall with little CPU is time the machine gave to other processes.',
    '',
  )
  push(
    '| Subject | Saves | Longest stall during a save (its CPU) | Longest stall otherwise (its CPU) | Time spent saving | Projection lag at the end | Notes |',
  )
  push('| --- | ---: | ---: | ---: | ---: | ---: | --- |')
  for (const [key, label] of [
    ['lib', '**state store**, `fsStoreBackend`, `writeInterval: 1000`: saves as the store paces them'],
    ['flushed', '**state store**, the same, and `flush()` every quarter of the run: saves at fixed moments'],
    ['no-save', 'baseline: the same updates, a backend that writes nothing'],
  ]) {
    const r = get(`save/${key}`)
    if (!r) continue
    push(
      `| ${label} | ${r.error ? '' : r.saves} | ${r.error ? '' : `${ms(r.longestInSave)} (${ms(r.longestCpuInSave)})`} | ${r.error ? '' : `${ms(r.longestOutside)} (${ms(r.longestCpuOutside)})`} | ${r.error ? '' : `${(r.savingShare * 100).toFixed(1)}%`} | ${r.error ? '' : `${fmtInt(r.lag)} events`} | ${[errorCell(r), r.saveMs?.length ? `each save (ms): ${r.saveMs.join(', ')}` : '', r.load === undefined ? '' : `load average ${r.load.toFixed(1)}`].filter(Boolean).join('; ')} |`,
    )
  }
  push('')
  if (lib && !lib.error) {
    push(
      `One synchronous \`JSON.stringify\` of that state (the old way of saving) takes ${ms(lib.stringifyMs)}. Opening the store on that file took ${ms(lib.loadMs)}, against ${ms(lib.parseMs)} for one \`JSON.parse\` of its text in the same process (${ratio(lib.loadMs, lib.parseMs)}).`,
      '',
    )
  }
  const saved = [lib, get('save/flushed')].filter((r) => r && !r.error && r.saves > 0)
  const longest = saved.length === 0 ? undefined : Math.max(...saved.map((r) => r.longestInSave))
  const longestCpu = saved.length === 0 ? undefined : Math.max(...saved.map((r) => r.longestCpuInSave))
  targets.push([
    `Longest stall from saving a ${mb(lib?.bytes)} read model < 50 ms (goal 20 ms)`,
    longest === undefined ? 'no save in the window' : `${ms(longest)} (CPU in it: ${ms(longestCpu)})`,
    longest === undefined ? '' : met(longest < 50),
  ])
  targets.push([
    '…or, if not, time spent saving ≤ 10%',
    lib?.savingShare === undefined ? '' : `${(lib.savingShare * 100).toFixed(1)}% (${lib.saves} saves)`,
    lib?.saves > 0 ? met(lib.savingShare <= 0.1) : '',
  ])
  targets.push([`Opening a store on a ${mb(lib?.bytes)} file ≈ one \`JSON.parse\``, ratio(lib?.loadMs, lib?.parseMs), met(lib?.loadMs < 1.5 * lib?.parseMs)])
}

const cpus = os.cpus()
let revision = 'unknown revision'
try {
  revision = execFileSync('git', ['describe', '--always', '--dirty'], { cwd: here, encoding: 'utf8' }).trim()
} catch {}
const header = [
  '# Benchmark results',
  '',
  `Generated by \`npm run bench\`${quick ? ' --quick (a tenth of the sizes)' : ''} on ${started.toISOString().replace('T', ' ').slice(0, 16)} UTC.`,
  '',
  `- Machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}`,
  `- Node ${process.version}; library at git ${revision}`,
  `- Load average (1/5/15 min) before: ${loadBefore.map((x) => x.toFixed(2)).join(' / ')}, after: ${loadAfter.map((x) => x.toFixed(2)).join(' / ')} — the machine is shared, so absolute numbers are noisy; ratios compare runs made side by side.`,
  `- Method: every measurement in a fresh Node process; library and baselines interleaved, ${reps} repetition${reps > 1 ? 's' : ''} each (best kept); peers once. Events are ~${bytesPerEvent} bytes as stored.`,
  '',
  '## Targets',
  '',
  '| Target | Measured | |',
  '| --- | --- | --- |',
  ...targets.map((row) => `| ${row.join(' | ')} |`),
  '',
  '## Measurements',
  '',
]

let notes = ''
try {
  notes = await readFile(join(here, 'NOTES.md'), 'utf8')
} catch {}
const report = `${header.join('\n')}${lines.join('\n')}\n${notes ? `\n${notes.trim()}\n` : ''}`
process.stdout.write(report)
if (write) {
  await writeFile(join(here, 'RESULTS.md'), report)
  log('wrote bench/RESULTS.md')
}
