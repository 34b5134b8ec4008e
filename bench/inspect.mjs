/**
 * `tiny-event-sourcing inspect` on a log of 1,000,000 events: how long from
 * starting the command until its first view is ready (the timeline, the
 * newest events and the read models answered, every event indexed), and
 * until the field catalogue has read every event. Target: first view within
 * 2 s. Run with `npm run bench:inspect`; the log is generated in a temporary
 * folder and removed afterwards.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const events = Number(process.env.EVENTS ?? 1_000_000)
const targetMs = 2000
const dir = mkdtempSync(join(tmpdir(), 'tes-bench-inspect-'))
const cli = new URL('../dist/cli.js', import.meta.url).pathname

function generate(filename) {
  const types = ['bookmark', 'info', 'visit', 'tag', 'info-failed']
  const start = Date.parse('2026-11-01T00:00:00.000Z')
  const lines = []
  for (let i = 0; i < events; i++) {
    const type = types[i % 7 === 0 ? 1 : i % 11 === 0 ? 3 : i % 3 === 0 ? 2 : i % 101 === 0 ? 4 : 0]
    const meta = { at: new Date(start + i * 2500).toISOString(), ...(type === 'info' && i > 0 ? { causedBy: i - 1 } : {}) }
    const event = { type, url: `https://site${i % 5000}.example/page/${i}`, ...(type === 'info' ? { title: `Page ${i}` } : {}), _meta: meta, index: i }
    lines.push(JSON.stringify(event))
  }
  writeFileSync(filename, `${lines.join('\n')}\n`)
}

/** CPU seconds the process has used (user + system), from /proc: on a shared machine, wall time says more about the neighbours. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

const get = async (url, path) => (await fetch(url.replace('/?', `${path}?`))).json()

try {
  const filename = join(dir, 'log.ndjson')
  generate(filename)
  writeFileSync(join(dir, 'read-model.json'), JSON.stringify({ _version: events - 10, state: { count: events - 9 } }))
  const started = performance.now()
  const child = spawn(process.execPath, [cli, 'inspect', dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  const url = await new Promise((resolve, reject) => {
    let text = ''
    child.stdout.on('data', (chunk) => {
      text += chunk
      const match = /http:\/\/\S+/.exec(text)
      if (match) resolve(match[0])
    })
    child.on('exit', () => reject(new Error(`inspect ended before printing its URL:\n${text}`)))
  })
  const printed = performance.now() - started
  for (;;) {
    const summary = await get(url, '/api/summary')
    if (summary.indexed === summary.length) break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await Promise.all([get(url, '/api/timeline'), get(url, '/api/events'), get(url, '/api/read-models')])
  const firstView = performance.now() - started
  const firstViewCpu = cpuSeconds(child.pid)
  for (;;) {
    const summary = await get(url, '/api/summary')
    if (summary.catalogued === summary.length) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const catalogue = performance.now() - started
  const catalogueCpu = cpuSeconds(child.pid)
  child.kill('SIGINT')
  const format = (ms) => `${(ms / 1000).toFixed(2)} s`
  console.log(`inspect, ${events.toLocaleString('en-US')} events: URL printed after ${format(printed)}`)
  console.log(
    `  first view ready  ${format(firstView)}  (target ${format(targetMs)}: ${(firstView / targetMs).toFixed(2)}× of it), ${firstViewCpu.toFixed(2)} s of CPU`,
  )
  console.log(`  field catalogue   ${format(catalogue)}, ${catalogueCpu.toFixed(2)} s of CPU (read in the background; the page shows its progress)`)
  console.log(`  load average ${loadavg()[0].toFixed(1)} on ${(await import('node:os')).cpus().length} cores: wall times stretch with it`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
