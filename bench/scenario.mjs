// Runs one measurement in a process of its own, so that every number (peak
// memory above all) is clean of the others, and prints it as one JSON line.
//   node bench/scenario.mjs <name> '<json args>'
import { createReadStream, openSync, writeSync, closeSync, fdatasyncSync } from 'node:fs'
import { appendFile, open, readFile } from 'node:fs/promises'
import { initOriginalLog } from './original-design.mjs'
import * as peers from './peers/index.mjs'
import { makeEvent, makeInfoEvent, now, percentile, reduceBookmarks, reduceBookmarksBySpreading, rssTracker, storedLine } from './workload.mjs'

// BENCH_LIBRARY points at another build of the library (bench/compare.mjs uses it to measure before and after a change).
const { initLog, initStateStore, fsStoreBackend, memoryStorage, memoryStoreBackend, project, catchupSubscribe } = await import(
  process.env.BENCH_LIBRARY ?? '../dist/index.js'
)

function lastIndexCheck(sum, count) {
  // Every replay sums the indices it saw, so a subject that skipped or
  // repeated events cannot pass unnoticed.
  const expected = (count * (count - 1)) / 2
  if (sum !== expected) throw new Error(`replay saw the wrong events: index sum ${sum}, expected ${expected}`)
}

const scenarios = {
  // ---- Replay: from open to the last event ---------------------------------
  async 'replay:lib'({ file, count }) {
    const rss = rssTracker()
    rss.start()
    const t0 = startClock()
    const log = await initLog({ filename: file, readOnly: true })
    let sum = 0
    let seen = 0
    for await (const event of log.events()) {
      sum += event.index
      rss.tick()
      if (++seen === count) break
    }
    const { ms, cpuMs } = elapsed(t0)
    const grown = rss.stop()
    await log.close()
    lastIndexCheck(sum, count)
    return { count, ms, cpuMs, rss: grown }
  },

  async 'replay:lib-filtered'({ file, count, filter }) {
    // `filter` is 'all' (types: a filter every event matches: the cost of the
    // check alone) or 'last' (where: the URL of the last event only: the log
    // steps over the other events without delivering them).
    const options = filter === 'all' ? { types: ['bookmarked'] } : { where: { url: makeEvent(count - 1).url } }
    const rss = rssTracker()
    rss.start()
    const t0 = startClock()
    const log = await initLog({ filename: file, readOnly: true })
    let sum = 0
    let seen = 0
    for await (const event of log.events(options)) {
      sum += event.index
      rss.tick()
      if (event.index === count - 1) break
      seen++
    }
    const { ms, cpuMs } = elapsed(t0)
    const grown = rss.stop()
    await log.close()
    if (filter === 'all') lastIndexCheck(sum, count)
    else if (sum !== count - 1 || seen !== 0) throw new Error(`the filtered replay saw the wrong events: index sum ${sum}`)
    return { count, ms, cpuMs, rss: grown }
  },

  async 'replay:stream'({ file, count }) {
    const rss = rssTracker()
    rss.start()
    const t0 = startClock()
    let sum = 0
    let rest = ''
    const stream = createReadStream(file, { encoding: 'utf8' })
    for await (const chunk of stream) {
      const text = rest + chunk
      let start = 0
      for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
        sum += JSON.parse(text.slice(start, end)).index
        rss.tick()
        start = end + 1
      }
      rest = text.slice(start)
    }
    const { ms, cpuMs } = elapsed(t0)
    const grown = rss.stop()
    lastIndexCheck(sum, count)
    return { count, ms, cpuMs, rss: grown }
  },

  async 'replay:memory'({ file, count }) {
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n')
    const rss = rssTracker()
    rss.start()
    const t0 = startClock()
    let sum = 0
    for (let i = 0; i < lines.length; i++) {
      sum += JSON.parse(lines[i]).index
      rss.tick()
    }
    const { ms, cpuMs } = elapsed(t0)
    const grown = rss.stop()
    lastIndexCheck(sum, count)
    return { count, ms, cpuMs, rss: grown }
  },

  async 'replay:original'({ file, count }) {
    const rss = rssTracker()
    rss.start()
    const t0 = startClock()
    const log = await initOriginalLog(file)
    let sum = 0
    let seen = 0
    for await (const event of log.events()) {
      sum += event.index
      rss.tick()
      if (++seen === count) break
    }
    const { ms, cpuMs } = elapsed(t0)
    const grown = rss.stop()
    log.close()
    lastIndexCheck(sum, count)
    return { count, ms, cpuMs, rss: grown }
  },

  async 'replay:emmett'({ count }) {
    const { getInMemoryEventStore } = await peers.emmett()
    const store = getInMemoryEventStore()
    const batch = 10_000
    for (let n = 0; n < count; n += batch) {
      const events = []
      for (let i = n; i < Math.min(count, n + batch); i++) events.push({ type: 'bookmarked', data: makeEvent(i) })
      await store.appendToStream('bookmarks', events)
    }
    const rss = rssTracker()
    rss.start()
    const t0 = startClock()
    const { events } = await store.readStream('bookmarks')
    let sum = 0
    for (const event of events) {
      sum += event.data.at - 1700000000000
      rss.tick()
    }
    const { ms, cpuMs } = elapsed(t0)
    const grown = rss.stop()
    lastIndexCheck(sum, count)
    return { count, ms, cpuMs, rss: grown, note: 'in memory: events appended in the same process first (not timed)' }
  },

  async 'replay:event-storage'({ dir, count }) {
    const EventStore = await peers.eventStorage()
    const rss = rssTracker()
    rss.start()
    const t0 = startClock()
    const store = new EventStore('bench', { storageDirectory: dir, readOnly: true })
    await new Promise((resolve) => store.once('ready', resolve))
    let sum = 0
    for (const event of store.getEventStream('bookmarks')) {
      sum += event.at - 1700000000000
      rss.tick()
    }
    const { ms, cpuMs } = elapsed(t0)
    const grown = rss.stop()
    store.close()
    lastIndexCheck(sum, count)
    return { count, ms, cpuMs, rss: grown }
  },

  async 'replay:sqlite'({ file, count }) {
    const Database = await peers.betterSqlite3()
    const rss = rssTracker()
    rss.start()
    const t0 = startClock()
    const db = new Database(file, { readonly: true })
    let sum = 0
    for (const row of db.prepare('SELECT data FROM events ORDER BY id').iterate()) {
      sum += JSON.parse(row.data).at - 1700000000000
      rss.tick()
    }
    const { ms, cpuMs } = elapsed(t0)
    const grown = rss.stop()
    db.close()
    lastIndexCheck(sum, count)
    return { count, ms, cpuMs, rss: grown }
  },

  // ---- Setup of the peers' stores (not timed) ------------------------------
  async 'setup:event-storage'({ dir, count }) {
    const EventStore = await peers.eventStorage()
    const store = new EventStore('bench', { storageDirectory: dir })
    await new Promise((resolve) => store.once('ready', resolve))
    const batch = 1000
    for (let n = 0; n < count; n += batch) {
      const events = []
      for (let i = n; i < Math.min(count, n + batch); i++) events.push(makeEvent(i))
      await new Promise((resolve) => store.commit('bookmarks', events, resolve))
    }
    store.close()
    return { count }
  },

  async 'setup:sqlite'({ file, count }) {
    const Database = await peers.betterSqlite3()
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, data TEXT NOT NULL)')
    const insert = db.prepare('INSERT INTO events (data) VALUES (?)')
    db.transaction(() => {
      for (let n = 0; n < count; n++) insert.run(JSON.stringify(makeEvent(n)))
    })()
    db.close()
    return { count }
  },

  // ---- Burst of un-awaited appends -------------------------------------------
  async 'burst:lib'({ file, count, metadata = true }) {
    const log = await initLog({ filename: file, metadata })
    const t0 = startClock()
    let last
    for (let n = 0; n < count; n++) last = log.append(makeEvent(n))
    await last
    const { ms, cpuMs } = elapsed(t0)
    await log.close()
    return { count, ms, cpuMs }
  },

  async 'burst:lib-all'({ file, count, size }) {
    const log = await initLog({ filename: file })
    const t0 = startClock()
    let last
    for (let n = 0; n < count; n += size) {
      const batch = []
      for (let i = n; i < n + size && i < count; i++) batch.push(makeEvent(i))
      last = log.appendAll(batch)
    }
    await last
    const { ms, cpuMs } = elapsed(t0)
    await log.close()
    return { count, ms, cpuMs }
  },

  async 'burst:raw'({ file, count }) {
    const handle = await open(file, 'a')
    const t0 = startClock()
    let text = ''
    for (let n = 0; n < count; n++) {
      text += `${JSON.stringify({ ...makeEvent(n), index: n })}\n`
      if (text.length >= 1 << 20) {
        await handle.write(text)
        text = ''
      }
    }
    if (text !== '') await handle.write(text)
    const { ms, cpuMs } = elapsed(t0)
    await handle.close()
    return { count, ms, cpuMs }
  },

  async 'burst:stringify'({ count }) {
    const t0 = startClock()
    let bytes = 0
    for (let n = 0; n < count; n++) bytes += JSON.stringify({ ...makeEvent(n), index: n }).length
    const { ms, cpuMs } = elapsed(t0)
    return { count, ms, cpuMs, bytes }
  },

  async 'burst:promises'({ count }) {
    // What any append that returns a promise per event costs in a burst:
    // every promise stays pending, holding its event, until the burst ends.
    const t0 = startClock()
    const pending = []
    let last
    for (let n = 0; n < count; n++) {
      const event = makeEvent(n)
      const record = JSON.stringify(event)
      last = new Promise((resolve) => pending.push({ record, event, resolve }))
    }
    await null
    for (let i = 0; i < pending.length; i++) pending[i].resolve({ ...pending[i].event, index: i })
    await last
    const { ms, cpuMs } = elapsed(t0)
    return { count, ms, cpuMs }
  },

  async 'burst:original'({ file, count }) {
    const log = await initOriginalLog(file)
    const t0 = startClock()
    const appends = []
    for (let n = 0; n < count; n++) appends.push(log.append(makeEvent(n)))
    await Promise.all(appends)
    const { ms, cpuMs } = elapsed(t0)
    log.close()
    return { count, ms, cpuMs }
  },

  async 'burst:emmett'({ count }) {
    const { getInMemoryEventStore } = await peers.emmett()
    const store = getInMemoryEventStore()
    const t0 = startClock()
    const appends = []
    for (let n = 0; n < count; n++) appends.push(store.appendToStream('bookmarks', [{ type: 'bookmarked', data: makeEvent(n) }]))
    await Promise.all(appends)
    const { ms, cpuMs } = elapsed(t0)
    return { count, ms, cpuMs, note: 'in memory, nothing written' }
  },

  async 'burst:event-storage'({ dir, count }) {
    const EventStore = await peers.eventStorage()
    const store = new EventStore('bench', { storageDirectory: dir })
    await new Promise((resolve) => store.once('ready', resolve))
    const t0 = startClock()
    const appends = []
    for (let n = 0; n < count; n++) appends.push(new Promise((resolve) => store.commit('bookmarks', [makeEvent(n)], resolve)))
    await Promise.all(appends)
    const { ms, cpuMs } = elapsed(t0)
    store.close()
    return { count, ms, cpuMs }
  },

  async 'burst:sqlite'({ file, count }) {
    const Database = await peers.betterSqlite3()
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = OFF')
    db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, data TEXT NOT NULL)')
    const insert = db.prepare('INSERT INTO events (data) VALUES (?)')
    const t0 = startClock()
    db.transaction(() => {
      for (let n = 0; n < count; n++) insert.run(JSON.stringify(makeEvent(n)))
    })()
    const { ms, cpuMs } = elapsed(t0)
    db.close()
    return { count, ms, cpuMs, note: 'one transaction, synchronous = OFF' }
  },

  // ---- Conditional appends: handlers deciding at once, each about its own URL --
  async 'conditional:lib'({ count, concurrent, conditional }) {
    // Groups of `concurrent` handlers append at once, as a busy server's
    // requests would; each decided from the log as it stood before its group.
    const log = await initLog({ storage: memoryStorage() })
    const t0 = startClock()
    for (let n = 0; n < count; n += concurrent) {
      const after = log.length - 1
      const group = []
      for (let i = n; i < n + concurrent && i < count; i++) {
        const event = makeEvent(i)
        group.push(conditional ? log.append(event, { condition: { types: ['bookmarked'], where: { url: event.url }, after } }) : log.append(event))
      }
      await Promise.all(group)
    }
    const { ms, cpuMs } = elapsed(t0)
    await log.close()
    return { count, ms, cpuMs }
  },

  // ---- Awaited appends, one at a time ----------------------------------------
  async 'awaited:lib'({ file, count, metadata = true }) {
    const log = await initLog({ filename: file, metadata })
    const t0 = startClock()
    for (let n = 0; n < count; n++) await log.append(makeEvent(n))
    const { ms, cpuMs } = elapsed(t0)
    await log.close()
    return { count, ms, cpuMs }
  },

  async 'awaited:appendFile'({ file, count }) {
    const t0 = startClock()
    for (let n = 0; n < count; n++) await appendFile(file, `${storedLine(n)}\n`)
    const { ms, cpuMs } = elapsed(t0)
    return { count, ms, cpuMs }
  },

  async 'awaited:write'({ file, count }) {
    const handle = await open(file, 'a')
    const t0 = startClock()
    for (let n = 0; n < count; n++) await handle.write(`${JSON.stringify({ ...makeEvent(n), index: n })}\n`)
    const { ms, cpuMs } = elapsed(t0)
    await handle.close()
    return { count, ms, cpuMs }
  },

  async 'awaited:original'({ file, count }) {
    const log = await initOriginalLog(file)
    const t0 = startClock()
    for (let n = 0; n < count; n++) await log.append(makeEvent(n))
    const { ms, cpuMs } = elapsed(t0)
    log.close()
    return { count, ms, cpuMs }
  },

  async 'awaited:emmett'({ count }) {
    const { getInMemoryEventStore } = await peers.emmett()
    const store = getInMemoryEventStore()
    const t0 = startClock()
    for (let n = 0; n < count; n++) await store.appendToStream('bookmarks', [{ type: 'bookmarked', data: makeEvent(n) }])
    const { ms, cpuMs } = elapsed(t0)
    return { count, ms, cpuMs, note: 'in memory, nothing written' }
  },

  async 'awaited:event-storage'({ dir, count }) {
    const EventStore = await peers.eventStorage()
    const store = new EventStore('bench', { storageDirectory: dir })
    await new Promise((resolve) => store.once('ready', resolve))
    const t0 = startClock()
    for (let n = 0; n < count; n++) await new Promise((resolve) => store.commit('bookmarks', [makeEvent(n)], resolve))
    const { ms, cpuMs } = elapsed(t0)
    store.close()
    return { count, ms, cpuMs }
  },

  async 'awaited:sqlite'({ file, count }) {
    const Database = await peers.betterSqlite3()
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = OFF')
    db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, data TEXT NOT NULL)')
    const insert = db.prepare('INSERT INTO events (data) VALUES (?)')
    const t0 = startClock()
    for (let n = 0; n < count; n++) insert.run(JSON.stringify(makeEvent(n)))
    const { ms, cpuMs } = elapsed(t0)
    db.close()
    return { count, ms, cpuMs, note: 'one autocommit INSERT each (synchronous, so "awaited" is free), synchronous = OFF' }
  },

  // ---- fsync: concurrent appenders, one fdatasync per batch ------------------
  async 'fsync:lib'({ file, appenders, count }) {
    const log = await initLog({ filename: file, fsync: true })
    const perAppender = count / appenders
    const t0 = startClock()
    await Promise.all(
      Array.from({ length: appenders }, async (_, a) => {
        for (let i = 0; i < perAppender; i++) await log.append(makeEvent(a * perAppender + i))
      }),
    )
    const { ms, cpuMs } = elapsed(t0)
    await log.close()
    return { count, ms, cpuMs }
  },

  async 'fsync:raw'({ file, appenders, count }) {
    const handle = await open(file, 'a')
    const t0 = startClock()
    for (let n = 0; n < count; n += appenders) {
      let text = ''
      for (let i = n; i < n + appenders; i++) text += `${JSON.stringify({ ...makeEvent(i), index: i })}\n`
      await handle.write(text)
      await handle.datasync()
    }
    const { ms, cpuMs } = elapsed(t0)
    await handle.close()
    return { count, ms, cpuMs }
  },

  // ---- Tail latency: append → a waiting iterator -----------------------------
  async 'tail:lib'({ file, count }) {
    const log = await initLog({ filename: file })
    const latencies = []
    let sentAt = 0
    const send = (n) => {
      sentAt = now()
      log.append(makeEvent(n))
    }
    setImmediate(() => send(0))
    for await (const event of log.events()) {
      latencies.push(now() - sentAt)
      if (event.index + 1 === count) break
      setImmediate(() => send(event.index + 1))
    }
    await log.close()
    return latencyResult(latencies)
  },

  async 'tail:raw'({ file, count }) {
    // The least a file-backed log can do: write the line, then hand it to a
    // reader waiting on a promise.
    const handle = await open(file, 'a')
    const latencies = []
    let sentAt = 0
    let deliver
    const send = async (n) => {
      sentAt = now()
      const line = `${JSON.stringify({ ...makeEvent(n), index: n })}\n`
      await handle.write(line)
      deliver(JSON.parse(line))
    }
    for (let n = 0; n < count; n++) {
      const arrived = new Promise((resolve) => (deliver = resolve))
      setImmediate(() => send(n))
      await arrived
      latencies.push(now() - sentAt)
    }
    await handle.close()
    return latencyResult(latencies)
  },

  async 'tail:original'({ file, count }) {
    const log = await initOriginalLog(file)
    const latencies = []
    let sentAt = 0
    const send = (n) => {
      sentAt = now()
      log.append(makeEvent(n))
    }
    setImmediate(() => send(0))
    for await (const event of log.events()) {
      latencies.push(now() - sentAt)
      if (event.index + 1 === count) break
      // A random pause, so the appends do not fall into step with the polling.
      setTimeout(() => send(event.index + 1), Math.random() * 1000)
    }
    log.close()
    return latencyResult(latencies)
  },

  // ---- events({ after }) near the end of a long log --------------------------
  async 'after:lib'({ file, count }) {
    const t0 = now()
    const log = await initLog({ filename: file, readOnly: true })
    const t1 = now()
    let first
    for await (const event of log.events({ after: count - 10 })) {
      first = event
      break
    }
    const t2 = now()
    await log.close()
    if (first?.index !== count - 9) throw new Error(`events({ after }) started at ${first?.index}`)
    return { count: 1, ms: t2 - t1, openMs: t1 - t0 }
  },

  async 'after:scan'({ file, count }) {
    // What a log without an index must do: read from the start up to the event.
    const t0 = startClock()
    let rest = ''
    let first
    const stream = createReadStream(file, { encoding: 'utf8' })
    outer: for await (const chunk of stream) {
      const text = rest + chunk
      let start = 0
      for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
        const event = JSON.parse(text.slice(start, end))
        start = end + 1
        if (event.index === count - 9) {
          first = event
          break outer
        }
      }
      rest = text.slice(start)
    }
    stream.destroy()
    const { ms } = elapsed(t0)
    if (first?.index !== count - 9) throw new Error('scan did not find the event')
    return { count: 1, ms }
  },

  // ---- Read models: rebuild, subscribe overhead, big saves and loads ---------
  async 'rebuild:lib'({ file, count, stateFile, spreading }) {
    // A rebuild from scratch: the README's projection over the whole log, into a state file.
    const t0 = startClock()
    const log = await initLog({ filename: file, readOnly: true })
    const store = await initStateStore({ storeBackend: fsStoreBackend(stateFile, { byUrl: {} }) })
    const reduce = spreading ? reduceBookmarksBySpreading : reduceBookmarks
    const stop = new AbortController()
    await project({
      log,
      store,
      signal: stop.signal,
      reduce: (state, event) => {
        if (event.index === count - 1) stop.abort()
        return reduce(state, event)
      },
    })
    const applied = elapsed(t0)
    await store.close()
    const { ms, cpuMs } = elapsed(t0)
    await log.close()
    if (store.getVersion() !== count - 1) throw new Error(`the rebuild stopped at ${store.getVersion()}`)
    return { count, ms, cpuMs, appliedMs: applied.ms, pages: Object.keys(store.getState().byUrl).length }
  },

  async 'subscribe:plain'({ file, count }) {
    const log = await initLog({ filename: file, readOnly: true })
    const t0 = startClock()
    let sum = 0
    for await (const event of log.events()) {
      sum += event.index
      if (event.index === count - 1) break
    }
    const { ms, cpuMs } = elapsed(t0)
    await log.close()
    lastIndexCheck(sum, count)
    return { count, ms, cpuMs }
  },

  async 'subscribe:catchup'({ file, count }) {
    const log = await initLog({ filename: file, readOnly: true })
    const t0 = startClock()
    const stop = new AbortController()
    let sum = 0
    await catchupSubscribe(
      log.events({ signal: stop.signal }),
      (event) => {
        sum += event.index
        if (event.index === count - 1) stop.abort()
      },
      { signal: stop.signal },
    )
    const { ms, cpuMs } = elapsed(t0)
    await log.close()
    lastIndexCheck(sum, count)
    return { count, ms, cpuMs }
  },

  async 'subscribe:project'({ file, count }) {
    const log = await initLog({ filename: file, readOnly: true })
    const store = await initStateStore({ storeBackend: memoryStoreBackend({ n: 0 }) })
    const t0 = startClock()
    const stop = new AbortController()
    await project({
      log,
      store,
      signal: stop.signal,
      reduce: (state, event) => {
        if (event.index === count - 1) stop.abort()
        return state
      },
    })
    const { ms, cpuMs } = elapsed(t0)
    await store.close()
    await log.close()
    if (store.getVersion() !== count - 1) throw new Error(`project stopped at ${store.getVersion()}`)
    return { count, ms, cpuMs }
  },

  async 'save:lib'({ file, stateFile, pages, seconds, rate, writeInterval, noSave, flushEvery }) {
    // A big read model (the state file holds `pages` bookmarks) kept up to date
    // with a steady stream of events for `seconds`, while a timer measures how
    // late the event loop gets to it: every stall is the longest a request
    // would wait.
    const { readFile } = await import('node:fs/promises')
    const text = await readFile(stateFile, 'utf8')
    const bytes = Buffer.byteLength(text)
    let t = now()
    JSON.parse(text)
    const parseMs = now() - t
    t = now()
    JSON.stringify(JSON.parse(text))
    const stringifyMs = now() - t - parseMs
    globalThis.gc?.()
    t = now()
    const inner = fsStoreBackend(stateFile)
    const saves = []
    // Measured from outside, as any wrapper of a backend would.
    const backend = {
      ...inner,
      async write(snapshot) {
        if (noSave) return
        const started = now()
        await inner.write(snapshot)
        saves.push([started, now()])
      },
    }
    const store = await initStateStore({ storeBackend: backend, initialState: { byUrl: {} }, writeInterval })
    const loadMs = now() - t
    const log = await initLog({ filename: file })
    const projecting = project({ log, store, reduce: reduceBookmarks })
    // Each gap between two ticks, in wall time and in the CPU time the process
    // used meanwhile: on a shared machine a long gap with little CPU is time
    // the operating system gave to other processes, not work of this one.
    const stalls = []
    let last = now()
    let lastCpu = process.cpuUsage()
    const monitor = setInterval(() => {
      const at = now()
      const cpu = process.cpuUsage()
      stalls.push([last, at - last, (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000])
      last = at
      lastCpu = cpu
    }, 1)
    const started = now()
    // Saves at fixed moments too, whatever the store's own pacing, so that stalls during saves are measured even in a short window.
    const flusher = flushEvery ? setInterval(() => store.flush().catch(() => {}), flushEvery * 1000) : undefined
    const first = log.length
    let appended = 0
    // `rate` events a second, appended every 10 ms, each updating one of the pages.
    while (now() - started < seconds * 1000) {
      const due = Math.floor(((now() - started) / 1000) * rate)
      const burst = []
      for (; appended < due; appended++) burst.push(log.append(makeInfoEvent(first + appended * 7919, pages)))
      await Promise.all(burst)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const wallMs = now() - started
    clearInterval(monitor)
    clearInterval(flusher)
    const lag = first + appended - 1 - store.getVersion()
    await log.close()
    await projecting
    await store.close()
    const during = saves.filter(([s]) => s >= started && s < started + wallMs)
    const inSave = (at, gap) => during.some(([s, e]) => at + gap >= s && at <= e)
    let longestInSave = 0
    let longestOutside = 0
    let longestCpuInSave = 0
    let longestCpuOutside = 0
    for (const [at, gap, cpu] of stalls) {
      if (inSave(at, gap)) {
        longestInSave = Math.max(longestInSave, gap)
        longestCpuInSave = Math.max(longestCpuInSave, Math.min(cpu, gap))
      } else {
        longestOutside = Math.max(longestOutside, gap)
        longestCpuOutside = Math.max(longestCpuOutside, Math.min(cpu, gap))
      }
    }
    const savingMs = during.reduce((sum, [s, e]) => sum + Math.min(e, started + wallMs) - s, 0)
    return {
      ms: wallMs,
      count: appended,
      bytes,
      parseMs,
      stringifyMs,
      loadMs,
      saves: during.length,
      saveMs: during.map(([s, e]) => Math.round(e - s)),
      savingShare: savingMs / wallMs,
      longestInSave,
      longestOutside,
      longestCpuInSave,
      longestCpuOutside,
      load: (await import('node:os')).loadavg()[0],
      lag,
    }
  },

  async 'setup:save'({ file, stateFile, pages }) {
    // A log of one event per page, and the state file that reflects it all.
    const { writeInfoLogFile } = await import('./workload.mjs')
    const { writeFile } = await import('node:fs/promises')
    await writeInfoLogFile(file, pages, pages)
    const state = { byUrl: {} }
    for (let i = 0; i < pages; i++) reduceBookmarks(state, makeInfoEvent(i, pages))
    await writeFile(stateFile, `${JSON.stringify({ _version: pages - 1, state })}\n`)
    return { count: pages }
  },

  // ---- Raw disk speed, for the notes ------------------------------------------
  async 'disk:fdatasync'({ file, count }) {
    const fd = openSync(file, 'a')
    const t0 = startClock()
    for (let n = 0; n < count; n++) {
      writeSync(fd, `${storedLine(n)}\n`)
      fdatasyncSync(fd)
    }
    const { ms, cpuMs } = elapsed(t0)
    closeSync(fd)
    return { count, ms, cpuMs }
  },
}

/** Wall-clock and CPU time: on a shared machine the CPU time is the steadier of the two. */
function startClock() {
  return { at: now(), cpu: process.cpuUsage() }
}

function elapsed(clock) {
  const cpu = process.cpuUsage(clock.cpu)
  return { ms: now() - clock.at, cpuMs: (cpu.user + cpu.system) / 1000 }
}

function latencyResult(latencies) {
  // The first few include warm-up (JIT, first write).
  const sorted = latencies.slice(Math.min(10, Math.floor(latencies.length / 10))).sort((a, b) => a - b)
  return { count: latencies.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), ms: latencies.reduce((a, b) => a + b, 0) }
}

const [name, json = '{}'] = process.argv.slice(2)
const scenario = scenarios[name]
if (!scenario) {
  console.error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`)
  process.exit(2)
}
const result = await scenario(JSON.parse(json))
process.stdout.write(`${JSON.stringify(result)}\n`)
// Some peers keep timers or watchers alive; the measurement is done.
process.exit(0)
