// The flow test/runtimes/flow.test.ts runs on Node, Bun and Deno: plain JavaScript,
// importing the built package (dist/) the way a user's program on that runtime does.
//   <runtime> flow.mjs main <dist/index.js URL> <folder>
// prints `ok <step>` for each step done, and exits non-zero with the step and the
// error on the first that fails. It starts its helpers (a read-only follower, a
// second writer) with the same runtime: FLOW_COMMAND is that runtime's command line
// as a JSON array (for Deno, `deno run` and the permissions the library needs, which
// is all the helpers get; `main` also needs to read FLOW_COMMAND and to start them).
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const [mode, distUrl, folder] = process.argv.slice(2)
const { initLog, initStateStore, fsStoreBackend, project, LogLockedError } = await import(distUrl)
const filename = join(folder, 'log.ndjson')
const count = 1000

function check(condition, message) {
  if (!condition) throw new Error(message)
}

let step = 'start'
async function run(name, body) {
  step = name
  await body()
  console.log(`ok ${name}`)
}

/** Starts this script in `childMode` with the same runtime; its stdout as lines. */
function startHelper(childMode) {
  const command = JSON.parse(process.env.FLOW_COMMAND)
  const child = spawn(command[0], [...command.slice(1), new URL(import.meta.url).pathname, childMode, distUrl, folder], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (data) => (stderr += data))
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)))
  return {
    child,
    async next(what) {
      // Generous: only a helper that is stuck takes this long.
      let timer
      const stuck = new Promise((resolve) => (timer = setTimeout(() => resolve({ stuck: true }), 60_000)))
      const line = await Promise.race([lines.next(), stuck])
      clearTimeout(timer)
      if (line.stuck) {
        child.kill()
        throw new Error(`the ${childMode} helper printed nothing for 60 s while ${what} was expected: ${stderr}`)
      }
      const { value, done } = line
      if (done) throw new Error(`the ${childMode} helper ended before printing ${what} (exit code ${await exited}): ${stderr}`)
      return value
    },
    async exit() {
      const code = await exited
      return { code, stderr }
    },
  }
}

async function main() {
  let log
  await run('open a log', async () => {
    log = await initLog({ filename })
    check(log.length === 0, `a new log has ${log.length} events`)
  })

  await run(`${count} appends without awaiting, in call order`, async () => {
    const appends = []
    for (let n = 0; n < count; n++) appends.push(log.append({ type: n % 2 === 0 ? 'even' : 'odd', n }))
    const stored = await Promise.all(appends)
    stored.forEach((event, i) => check(event.index === i && event.n === i, `append ${i} resolved with ${JSON.stringify(event)}`))
    const lines = (await readFile(filename, 'utf8')).trimEnd().split('\n')
    check(lines.length === count, `the file has ${lines.length} lines, not ${count}`)
    let previousAt = ''
    lines.forEach((line, i) => {
      const at = JSON.parse(line)._meta?.at
      check(
        typeof at === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(at) && at >= previousAt,
        `line ${i + 1} has no time after the line before it: ${line}`,
      )
      previousAt = at
      const expected = JSON.stringify({ type: i % 2 === 0 ? 'even' : 'odd', n: i, _meta: { at }, index: i })
      check(line === expected, `line ${i + 1} is ${line}, not ${expected}`)
      check(JSON.stringify(stored[i]) === line, `append ${i} resolved with ${JSON.stringify(stored[i])}, not the stored line ${line}`)
    })
  })

  await run('a follower opened with readOnly in another process sees them, then a new one', async () => {
    const follower = startHelper('follow')
    const caughtUp = await follower.next('the events it replayed')
    check(caughtUp === `replayed ${count}`, `the follower printed "${caughtUp}"`)
    await log.append({ type: 'late', n: count })
    const live = await follower.next('the event appended after it caught up')
    check(live === `followed ${count}`, `the follower printed "${live}"`)
    const { code, stderr } = await follower.exit()
    check(code === 0, `the follower exited with ${code}: ${stderr}`)
  })

  await run('a second writer is refused with LogLockedError', async () => {
    const writer = startHelper('second-writer')
    const said = await writer.next('what opening the log did')
    check(said === `refused LOG_LOCKED ${filename}.lock`, `the second writer printed "${said}"`)
    check((await writer.exit()).code === 0, 'the second writer failed')
  })

  await run('a state store kept by project, saved and reloaded', async () => {
    const stateFile = join(folder, 'counts.json')
    const reduce = (state, event) => ({ ...state, [event.type]: (state[event.type] ?? 0) + 1 })
    const store = await initStateStore({ storeBackend: fsStoreBackend(stateFile, {}) })
    const stop = new AbortController()
    const projecting = project({ log, store, reduce, version: 1, signal: stop.signal })
    while (store.getVersion() < count) await new Promise((resolve) => setTimeout(resolve, 10))
    stop.abort()
    await projecting
    await store.close()
    const expected = { even: count / 2, odd: count / 2, late: 1 }
    const envelope = JSON.parse(await readFile(stateFile, 'utf8'))
    check(envelope._version === count, `the state file has _version ${envelope._version}`)
    const reloaded = await initStateStore({ storeBackend: fsStoreBackend(stateFile, {}) })
    check(reloaded.getVersion() === count, `reloaded at version ${reloaded.getVersion()}`)
    check(JSON.stringify(reloaded.getState()) === JSON.stringify(expected), `reloaded ${JSON.stringify(reloaded.getState())}`)
    await reloaded.close()
  })

  await run('close the log', async () => {
    await log.close()
    check((await readFile(filename, 'utf8')).trimEnd().split('\n').length === count + 1, 'the closed log lost events')
  })

  await run('the lock of a writer killed with SIGKILL is taken over', async () => {
    const holder = startHelper('hold')
    const said = await holder.next('that it holds the log')
    check(said === 'holding', `the holder printed "${said}"`)
    holder.child.kill('SIGKILL')
    await holder.exit()
    const again = await initLog({ filename })
    check(again.length === count + 1, `reopened with ${again.length} events`)
    await again.close()
  })
}

async function hold() {
  // Not referenced, as a program that only means to hold the lock would do: the library keeps it open until killed.
  await initLog({ filename })
  console.log('holding')
  setInterval(() => {}, 1000)
}

async function follow() {
  const follower = await initLog({ filename, readOnly: true })
  let seen = 0
  for await (const event of follower.events()) {
    if (event.index !== seen) throw new Error(`the follower got index ${event.index} where ${seen} was expected`)
    seen++
    if (seen === count) console.log(`replayed ${count}`)
    if (seen === count + 1) {
      console.log(`followed ${event.n}`)
      break
    }
  }
  await follower.close()
}

async function secondWriter() {
  try {
    const log = await initLog({ filename })
    await log.close()
    console.log('opened: the log was not locked')
  } catch (error) {
    if (!(error instanceof LogLockedError)) throw error
    console.log(`refused ${error.code} ${error.lockFile}`)
  }
}

try {
  await { main, follow, 'second-writer': secondWriter, hold }[mode]()
} catch (error) {
  console.error(`failed: ${mode === 'main' ? step : mode}: ${error?.stack ?? error}`)
  process.exit(1)
}
