// A dedicated module Web Worker using the browser build as an app would: the
// default import by URL (the page's import map does not apply in a worker),
// then initLog, initStateStore, fsStoreBackend, project and catchupSubscribe.
// The test page (worker.test.ts) sends it commands `{ id, command, args }`; it
// answers each with `{ id, result }` or `{ id, error }`, and reports anything
// thrown outside a command as `{ problem }`.
import tinyEventSourcing, { LogLockedError } from '/dist/browser.js'

const { initLog, initStateStore, fsStoreBackend, project, catchupSubscribe } = tinyEventSourcing

let log
let store
let projecting
let subscribing
/** The indices catchupSubscribe handed to its handler, in order. */
const subscribed = []

/** A read model of the events' `n`s, to check that project() ran in the worker. */
const reduce = (state, event) => ({ count: state.count + 1, ns: [...state.ns, event.n] })

const commands = {
  /** What kind of global scope this is: a dedicated worker has no window, no document and no pagehide event. */
  where: () => ({
    scope: self.constructor.name,
    hasWindow: typeof window !== 'undefined',
    hasDocument: typeof document !== 'undefined',
    hasPagehide: 'onpagehide' in self,
    hasLocks: typeof navigator.locks?.request === 'function',
  }),

  async open({ filename, readOnly = false }) {
    log = await initLog({ filename, readOnly })
    return log.length
  },

  async append({ events }) {
    const indices = []
    for (const event of events) indices.push((await log.append(event)).index)
    return indices
  },

  /** Starts project() into an IndexedDB state store, and catchupSubscribe() on the log, both left running. */
  async follow({ stateName }) {
    // A long writeInterval: what the page reads back was written by close(), not by a timer.
    store = await initStateStore({ storeBackend: fsStoreBackend(stateName, { count: 0, ns: [] }), writeInterval: 600_000 })
    projecting = project({ log, store, reduce, version: 1 })
    subscribing = catchupSubscribe(log.events(), (event) => {
      subscribed.push(event.index)
    })
    return store.getVersion()
  },

  /** Resolves once project() and catchupSubscribe() have both reached event `index`. */
  async caughtUp({ index }) {
    while (store.getVersion() < index || (subscribed.at(-1) ?? -1) < index) await new Promise((resolve) => setTimeout(resolve, 10))
    return { version: store.getVersion(), subscribed: [...subscribed] }
  },

  /** Closes the log (which ends project() and catchupSubscribe()), then the state store. */
  async close() {
    await log.close()
    await Promise.all([projecting, subscribing])
    await store?.close()
    return store ? { version: store.getVersion(), state: store.getState() } : null
  },
}

self.onmessage = async ({ data: { id, command, args } }) => {
  try {
    postMessage({ id, result: await commands[command](args ?? {}) })
  } catch (error) {
    // Error objects lose their own fields (code) when posted: send what the test checks.
    postMessage({
      id,
      error: {
        name: error?.name,
        code: error?.code,
        message: String(error?.message ?? error),
        isLogLockedError: error instanceof LogLockedError,
      },
    })
  }
}

self.addEventListener('error', (event) => postMessage({ problem: `error: ${event.message}` }))
self.addEventListener('unhandledrejection', (event) => postMessage({ problem: `unhandled rejection: ${event.reason?.stack ?? event.reason}` }))
postMessage({ ready: true })
