/**
 * The shared contract suites, run against the IndexedDB implementations in
 * real headless Chromium: the suites run here in Node, against a LogStorage
 * and a StateStoreBackend whose every call is carried out by the real
 * `indexedDbStorage` / `fsStoreBackend` of the browser build in a page. The
 * follower of the LogStorage contract lives in a second tab.
 */
import type { Page } from 'playwright-core'
import { beforeAll, describe, it } from 'vitest'
import {
  type AppendCondition,
  AppendConflictError,
  CorruptStateError,
  type Indexed,
  type LogStorage,
  type StateSnapshot,
  type StateStoreBackend,
} from '../../src/index.js'
import { describeLogStorage, describeStateStoreBackend } from '../../src/testing/index.js'
import { useBrowser } from './harness.js'

const browser = useBrowser()
let writerTab: Page
let followerTab: Page
/** Page-side watchers call back into Node through this: storage id → listener. */
const watchers = new Map<string, (length: number) => void>()

beforeAll(async () => {
  await browser.chromium.context.exposeFunction('storageAppended', (id: string, length: number) => watchers.get(id)?.(length))
  writerTab = await browser.openHarness()
  followerTab = await browser.openHarness()
}, 60_000)

interface PageError {
  name: string
  message: string
  code?: string
  expectedLastIndex?: number
  actualLastIndex?: number
  condition?: AppendCondition
  conflictingEvent?: Indexed<Record<string, unknown>>
}

/** Errors cross the page boundary as data; the library's own come back as the same classes. */
function rebuild(error: PageError, name: string): Error {
  if (error.code === 'APPEND_CONFLICT') {
    return error.condition && error.conflictingEvent
      ? new AppendConflictError(name, { condition: error.condition, event: error.conflictingEvent, actualLastIndex: error.actualLastIndex! })
      : new AppendConflictError(name, error.expectedLastIndex!, error.actualLastIndex!)
  }
  if (error.code === 'STATE_CORRUPT') return Object.assign(new CorruptStateError(name, error.message), { message: error.message })
  return Object.assign(new Error(error.message), { name: error.name, code: error.code })
}

type Outcome<T> = { value: T } | { error: PageError }

function settle<T>(outcome: Outcome<T>, name: string): T {
  if ('error' in outcome) throw rebuild(outcome.error, name)
  return outcome.value
}

let storageCount = 0
let logCount = 0

/** A LogStorage whose calls run on an `indexedDbStorage(name, options)` inside `page`. */
function pageStorage(page: Page, name: string): LogStorage {
  const id = `storage-${++storageCount}`
  const created = page.evaluate(
    ([id, name]) => {
      window.kept[id] = window.exported.indexedDbStorage(name)
    },
    [id, name] as const,
  )
  const call = async <T>(method: string, args: unknown[]): Promise<T> => {
    await created
    const outcome = await page.evaluate(
      async ([id, method, args]) => {
        try {
          return { value: await window.kept[id][method](...args) }
        } catch (error) {
          const { name, message, code, expectedLastIndex, actualLastIndex, condition, conflictingEvent } = error as PageError
          return { error: { name, message, code, expectedLastIndex, actualLastIndex, condition, conflictingEvent } }
        }
      },
      [id, method, args] as const,
    )
    return settle(outcome as Outcome<T>, name)
  }
  return {
    name,
    open: (openOptions) => call<number>('open', openOptions ? [openOptions] : []),
    append: (records, appendOptions) => call<number>('append', appendOptions ? [records, appendOptions] : [records]),
    async *read(from, filter) {
      await created
      const outcome = await page.evaluate(
        async ([id, from, filter]) => {
          try {
            const batches: unknown[][] = []
            for await (const batch of window.kept[id].read(from, filter)) batches.push(batch)
            return { value: batches }
          } catch (error) {
            return { error: { name: (error as Error).name, message: (error as Error).message, code: (error as PageError).code } }
          }
        },
        [id, from, filter] as const,
      )
      yield* settle(outcome as Outcome<Array<Array<Record<string, unknown> & { index: number }>>>, name)
    },
    watch(onAppend) {
      watchers.set(id, onAppend)
      const registered = created.then(() =>
        page.evaluate((id) => {
          window.kept[`${id}-stop`] = window.kept[id].watch((length: number) =>
            (window as unknown as { storageAppended(id: string, length: number): void }).storageAppended(id, length),
          )
        }, id),
      )
      return () => {
        watchers.delete(id)
        void registered.then(() => page.evaluate((id) => window.kept[`${id}-stop`]?.(), id)).catch(() => {})
      }
    },
    close: () => call<void>('close', []),
  }
}

describeLogStorage(
  'indexedDbStorage in Chromium (follower in a second tab)',
  {
    create: () => pageStorage(writerTab, `contract-log-${process.pid}-${++logCount}`),
    reopen: (closed) => pageStorage(writerTab, closed.name),
    follow: (writer) => pageStorage(followerTab, writer.name),
  },
  { describe, it },
)

let placeCount = 0

/** A StateStoreBackend whose calls run on the browser build's `fsStoreBackend(name, initialState)` inside the page. */
function pageBackend(name: string, initialState?: unknown): StateStoreBackend<unknown> {
  const call = async <T>(method: 'read' | 'write', args: unknown[]): Promise<T> => {
    const outcome = await writerTab.evaluate(
      async ([name, method, args]) => {
        try {
          const backend = window.tinyEventSourcing.fsStoreBackend<unknown>(name)
          return { value: await (backend[method] as (...args: unknown[]) => Promise<unknown>)(...args) }
        } catch (error) {
          return { error: { name: (error as Error).name, message: (error as Error).message, code: (error as PageError).code } }
        }
      },
      [name, method, args] as const,
    )
    return settle(outcome as Outcome<T>, name)
  }
  const backend: StateStoreBackend<unknown> = {
    name,
    read: () => call<StateSnapshot<unknown> | null>('read', []),
    write: (snapshot) => call<void>('write', [snapshot]),
  }
  return initialState === undefined ? backend : { ...backend, initialState }
}

describeStateStoreBackend(
  'fsStoreBackend of the browser build (IndexedDB) in Chromium',
  {
    create: (initialState) => pageBackend(`contract-state-${process.pid}-${++placeCount}.json`, initialState),
    reopen: (previous, initialState) => pageBackend(previous.name, initialState),
  },
  { describe, it },
)
