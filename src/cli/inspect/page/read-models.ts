/** The read models: each state file's version, how far behind the log it is, its size, and its state as a tree. */
import type { ReadModelInfo } from '../read-models.js'
import { getJson } from './api.js'
import { bytes, count, fill, h, moment, plural } from './dom.js'
import { lazyStateTree } from './json-tree.js'

interface TryJson {
  error?: string
  version?: number
  replayed?: number
  added?: number
  removed?: number
  changed?: number
  total?: number
  lines?: string[]
}

/** A read model as the server sends it, with how far it is behind the log. */
type ReadModelJson = ReadModelInfo & { behind?: number }

export class ReadModels {
  readonly element: HTMLElement
  #list = h('div', { class: 'models' })
  #shown = ''
  #open = new Set<number>()
  /** `--try`'s module, when the command was given one. */
  tryModule: string | undefined

  constructor() {
    this.element = h(
      'section',
      { id: 'read-models', class: 'card' },
      h('header', {}, h('h2', {}, 'Read models ', h('span', { class: 'muted' }, 'state files beside the log'))),
      this.#list,
    )
  }

  async refresh(): Promise<void> {
    const models = await getJson<ReadModelJson[]>('/api/read-models')
    // Redrawn only when something changed, so open trees stay open while the log grows.
    const key = JSON.stringify(models)
    if (key === this.#shown) return
    this.#shown = key
    if (models.length === 0) {
      fill(this.#list, h('div', { class: 'empty' }, 'No state file beside the log. Name one with --state FILE.'))
      return
    }
    fill(this.#list, ...models.map((model, n) => this.#card(model, n)))
  }

  #lag(model: ReadModelJson): HTMLElement {
    const behind = model.behind!
    if (behind === 0) return h('span', { class: 'lag ok' }, 'up to date')
    if (behind > 0) return h('span', { class: 'lag behind' }, `${plural(behind, 'event', 'events')} behind`)
    return h('span', { class: 'lag ahead' }, `ahead of the log by ${plural(-behind, 'event', 'events')}: built from another log?`)
  }

  #card(model: ReadModelJson, n: number): HTMLElement {
    const name = model.file.split('/').at(-1)!
    if (model.problem !== undefined) {
      return h('article', { class: 'model' }, h('h3', {}, name), h('p', { class: 'error' }, model.problem))
    }
    const facts = h(
      'dl',
      {},
      h('dt', {}, 'version'),
      h('dd', {}, model.version! < 0 ? 'no event yet (-1)' : `${count(model.version!)}: reflects events 0–${count(model.version!)}`),
      h('dt', {}, 'lag'),
      h('dd', {}, this.#lag(model)),
      h('dt', {}, 'size'),
      h('dd', {}, bytes(model.bytes!)),
      h('dt', {}, 'written'),
      h('dd', {}, `${moment(Date.parse(model.written!))} UTC`),
      model.projection !== undefined && h('dt', {}, 'projection'),
      model.projection !== undefined && h('dd', {}, `version ${JSON.stringify(model.projection)}`),
    )
    const state = h('details', { class: 'state', open: this.#open.has(n) }, h('summary', {}, 'State'))
    state.addEventListener('toggle', () => {
      if (state.open) {
        this.#open.add(n)
        if (state.children.length === 1) state.append(lazyStateTree(n))
      } else this.#open.delete(n)
    })
    if (state.open) state.append(lazyStateTree(n))
    return h('article', { class: 'model' }, h('h3', { title: model.file }, name), facts, state, this.tryModule === undefined ? null : this.#tryBox(n))
  }

  /** The `--try` diff view: the module replayed up to this model's version, and what it would change. */
  #tryBox(n: number): HTMLElement {
    const result = h('div', { class: 'try-result' })
    const button = h('button', { type: 'button', class: 'primary' }, `Try ${this.tryModule!.split('/').at(-1)}`)
    button.addEventListener('click', async () => {
      button.disabled = true
      fill(result, h('span', { class: 'muted' }, 'replaying the log in memory…'))
      try {
        const answer = await getJson<TryJson>('/api/try', { model: n })
        if (answer.error !== undefined) fill(result, h('pre', { class: 'error' }, answer.error))
        else {
          fill(
            result,
            h(
              'p',
              {},
              `Replayed ${plural(answer.replayed!, 'event', 'events')} up to version ${count(answer.version!)}: `,
              answer.total === 0
                ? 'no difference, the module builds the same state.'
                : `${plural(answer.total!, 'difference', 'differences')}: ${answer.added} added, ${answer.removed} removed, ${answer.changed} changed.`,
            ),
            answer.total! > 0 &&
              h(
                'div',
                { class: 'diff' },
                ...answer.lines!.map((line) => h('div', { class: `diff-${line[0] === '+' ? 'added' : line[0] === '-' ? 'removed' : 'changed'}` }, line)),
              ),
            answer.total! > answer.lines!.length &&
              h('p', { class: 'muted' }, `… and ${count(answer.total! - answer.lines!.length)} more (\`try --json\` lists them all)`),
          )
        }
      } catch (error) {
        fill(result, h('span', { class: 'error' }, (error as Error).message))
      } finally {
        button.disabled = false
      }
    })
    return h('div', { class: 'try' }, button, h('span', { class: 'muted' }, ' nothing is written'), result)
  }
}
