/** The read models `inspect` shows: state files read as a state store reads them, never written. */
import { stat } from 'node:fs/promises'
import { readStateFile } from '../state.js'

/** One state file as the page lists it. */
export interface ReadModelInfo {
  file: string
  /** The index of the last event the state reflects; absent when the file could not be read. */
  version?: number
  projection?: number | string
  bytes?: number
  /** When the file was last written (ISO time). */
  written?: string
  /** Why the file could not be read. */
  problem?: string
}

/** A node of a state tree, with its children summarised (the page asks for deeper ones when they are opened). */
export interface StateNode {
  kind: 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null'
  /** Keys or items, for objects and arrays. */
  size?: number
  /** The value itself, for everything but objects and arrays (long strings cut short). */
  value?: unknown
  children?: { key: string; kind: StateNode['kind']; size?: number; value?: unknown }[]
  /** Children left out of `children`. */
  more?: number
}

const listedChildren = 200
const valueChars = 200

function kindOf(value: unknown): StateNode['kind'] {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value as StateNode['kind']
}

function leaf(value: unknown): { kind: StateNode['kind']; size?: number; value?: unknown } {
  const kind = kindOf(value)
  if (kind === 'object') return { kind, size: Object.keys(value as object).length }
  if (kind === 'array') return { kind, size: (value as unknown[]).length }
  if (typeof value === 'string' && value.length > valueChars) return { kind, value: `${value.slice(0, valueChars - 1)}…` }
  return { kind, value }
}

/** The state files, each read afresh when it changed on disk. */
export class ReadModels {
  #cache = new Map<string, { key: string; state: unknown; info: ReadModelInfo }>()
  constructor(readonly files: readonly string[]) {}

  async #load(file: string): Promise<{ state: unknown; info: ReadModelInfo }> {
    let key: string
    try {
      const info = await stat(file)
      key = `${info.size}:${info.mtimeMs}`
      const cached = this.#cache.get(file)
      if (cached?.key === key) return cached
      const snapshot = await readStateFile(file)
      const entry = {
        key,
        state: snapshot.state,
        info: {
          file,
          version: snapshot._version,
          ...(snapshot._projection === undefined ? {} : { projection: snapshot._projection }),
          bytes: info.size,
          written: info.mtime.toISOString(),
        },
      }
      this.#cache.set(file, entry)
      return entry
    } catch (error) {
      this.#cache.delete(file)
      return { state: undefined, info: { file, problem: (error as Error).message.replace(/^tiny-event-sourcing: /, '') } }
    }
  }

  /** Every read model's version, size and time of writing (or what is wrong with it). */
  async list(): Promise<ReadModelInfo[]> {
    return Promise.all(this.files.map(async (file) => (await this.#load(file)).info))
  }

  /** A key that changes whenever a state file does, to tell the page. */
  async fingerprint(): Promise<string> {
    const parts = await Promise.all(
      this.files.map((file) =>
        stat(file).then(
          (info) => `${info.size}:${info.mtimeMs}`,
          () => 'missing',
        ),
      ),
    )
    return parts.join('|')
  }

  /** Read model `n`'s version and state, or `undefined` when there is no such model or it cannot be read. */
  async snapshot(n: number): Promise<{ version: number; state: unknown } | undefined> {
    const file = this.files[n]
    if (file === undefined) return undefined
    const { state, info } = await this.#load(file)
    return info.version === undefined ? undefined : { version: info.version, state }
  }

  /** The node at `path` (keys from the root) of read model `n`'s state. */
  async node(n: number, path: readonly string[]): Promise<StateNode | undefined> {
    const file = this.files[n]
    if (file === undefined) return undefined
    let value = (await this.#load(file)).state
    for (const key of path) {
      if (typeof value !== 'object' || value === null) return undefined
      value = (value as Record<string, unknown>)[key]
      if (value === undefined) return undefined
    }
    const node: StateNode = leaf(value)
    if (typeof value === 'object' && value !== null) {
      const entries = Object.entries(value)
      node.children = entries.slice(0, listedChildren).map(([key, child]) => ({ key, ...leaf(child) }))
      if (entries.length > listedChildren) node.more = entries.length - listedChildren
    }
    return node
  }
}
