/** `try <module>`: a reducer replayed over a log in memory, compared with a stored read model, with nothing written. */
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { removeTempDirs, run, tempDir, writeLog } from './run.js'

const reducer = `export const initialState = { byUrl: {} }
export function reduce(state, event) {
  if (event.type === 'bookmark') state.byUrl[event.url] = { url: event.url }
  if (event.type === 'info') state.byUrl[event.url].title = event.title
  if (event.type === 'unbookmark') delete state.byUrl[event.url]
  return state
}
`
/** The same read model, changed: titles in capitals, tags kept, unbookmarks ignored. */
const changedReducer = `export default {
  initialState: { byUrl: {} },
  reduce(state, event) {
    if (event.type === 'bookmark') state.byUrl[event.url] = { url: event.url, tags: event.tags ?? [] }
    if (event.type === 'info') state.byUrl[event.url].title = event.title.toUpperCase()
    return state
  },
}
`

/** A data folder as a service leaves it: a log, and a read model built by \`reducer\` up to index 3. */
async function service(): Promise<{ dir: string; log: string; model: string }> {
  const dir = await tempDir()
  const log = join(dir, 'log.ndjson')
  await writeLog(log, [
    { type: 'bookmark', url: 'https://a.example', _meta: { at: '2026-12-01T10:00:00.000Z' } },
    { type: 'info', url: 'https://a.example', title: 'Site A', _meta: { at: '2026-12-01T10:00:01.000Z', causedBy: 0 } },
    { type: 'bookmark', url: 'https://b.example', tags: ['js'], _meta: { at: '2026-12-01T11:00:00.000Z' } },
    { type: 'unbookmark', url: 'https://b.example', _meta: { at: '2026-12-01T12:00:00.000Z' } },
    { type: 'bookmark', url: 'https://c.example', _meta: { at: '2026-12-02T09:00:00.000Z' } },
  ])
  const model = join(dir, 'read-model.json')
  await writeFile(model, JSON.stringify({ _version: 3, state: { byUrl: { 'https://a.example': { url: 'https://a.example', title: 'Site A' } } } }))
  await writeFile(join(dir, 'reducer.mjs'), reducer)
  await writeFile(join(dir, 'changed.mjs'), changedReducer)
  return { dir, log, model }
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const names = (await readdir(dir)).sort()
  return Object.fromEntries(await Promise.all(names.map(async (name) => [name, await readFile(join(dir, name), 'utf8')])))
}

afterAll(removeTempDirs)

describe('tiny-event-sourcing try', () => {
  it('replays the log through the module and prints the state, up to --until (an index or a time)', async () => {
    const { dir, log } = await service()
    const all = await run(['try', join(dir, 'reducer.mjs'), '--log', log, '--json'])
    expect(all).toMatchObject({ code: 0, stderr: '' })
    expect(JSON.parse(all.stdout)).toEqual({
      byUrl: { 'https://a.example': { url: 'https://a.example', title: 'Site A' }, 'https://c.example': { url: 'https://c.example' } },
    })
    const toIndex = await run(['try', join(dir, 'reducer.mjs'), '--log', log, '--until', '2'])
    expect(toIndex.stdout).toBe(
      `Replayed 3 events (0–2) of ${log} through ${join(dir, 'reducer.mjs')}. Nothing was written.\n${JSON.stringify(
        { byUrl: { 'https://a.example': { url: 'https://a.example', title: 'Site A' }, 'https://b.example': { url: 'https://b.example' } } },
        null,
        2,
      )}\n`,
    )
    const toTime = await run(['try', join(dir, 'reducer.mjs'), '--log', log, '--until', '2026-12-01T10:30Z', '--json'])
    expect(JSON.parse(toTime.stdout)).toEqual({ byUrl: { 'https://a.example': { url: 'https://a.example', title: 'Site A' } } })
  })

  it('with --against, prints what a changed reducer would add, remove and change, replaying what the stored state reflects; nothing is written', async () => {
    const { dir, model } = await service()
    const before = await snapshot(dir)
    // The log is found beside the state file.
    const result = await run(['try', join(dir, 'changed.mjs'), '--against', model])
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toBe(
      `Replayed 4 events (0–3) of ${join(dir, 'log.ndjson')} through ${join(dir, 'changed.mjs')}. Nothing was written.
Compared with ${model} (version 3):
~ byUrl["https://a.example"].title: "Site A" → "SITE A"
+ byUrl["https://a.example"].tags: []
+ byUrl["https://b.example"]: {"url":"https://b.example","tags":["js"]}
3 differences: 2 added, 0 removed, 1 changed.
`,
    )
    const json = JSON.parse((await run(['try', join(dir, 'changed.mjs'), '--against', model, '--json'])).stdout)
    expect(json.differences).toContainEqual({ kind: 'changed', path: 'byUrl["https://a.example"].title', before: 'Site A', after: 'SITE A' })
    // The original reducer builds the stored state again; one event further, the difference is that event's.
    const same = await run(['try', join(dir, 'reducer.mjs'), '--against', model])
    expect(same.stdout).toContain('No difference: the new reducer builds the same state.\n')
    const further = await run(['try', join(dir, 'reducer.mjs'), '--against', model, '--until', '4'])
    expect(further.stdout).toContain(`Note: ${model} reflects events up to 3, the replay up to 4: events on one side only show as differences too.\n`)
    expect(further.stdout).toContain('+ byUrl["https://c.example"]: {"url":"https://c.example"}\n1 difference: 1 added, 0 removed, 0 changed.\n')
    expect(await snapshot(dir)).toEqual(before)
  })

  it('reports a reducer that throws with the index and type of the event, and exit code 1', async () => {
    const { dir, log } = await service()
    const throwing = join(dir, 'throwing.mjs')
    await writeFile(
      throwing,
      "export const initialState = 0\nexport const reduce = (n, event) => { if (event.type === 'unbookmark') throw new RangeError('cannot count down'); return n + 1 }\n",
    )
    const result = await run(['try', throwing, '--log', log])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(
      `try: reduce threw at event 3 (type "unbookmark") of ${log}; nothing was written:\nRangeError: cannot count down\n    at reduce (`,
    )
    expect(result.stderr).not.toContain('cli.js')
  })

  it('says what a module must export, and how to run TypeScript where Node cannot strip types', async () => {
    const { dir, log } = await service()
    const empty = join(dir, 'empty.mjs')
    await writeFile(empty, 'export const nothing = 1\n')
    const missing = await run(['try', empty, '--log', log])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain(`${empty} must export reduce and initialState`)
    const typescript = join(dir, 'count.ts')
    await writeFile(typescript, 'export const initialState: number = 0\nexport function reduce(count: number): number {\n  return count + 1\n}\n')
    const result = await run(['try', typescript, '--log', log, '--json'])
    if ((process as { features?: { typescript?: unknown } }).features?.typescript) expect(result).toMatchObject({ code: 0, stdout: '5\n' })
    else {
      expect(result.code).toBe(1)
      expect(result.stderr).toContain(`Node ${process.version} cannot load TypeScript (${typescript}) by itself. Node 22.18 or later strips types on its own`)
    }
    const noLog = await run(['try', join(dir, 'reducer.mjs')], { cwd: dir })
    expect(noLog.code).toBe(2)
    expect(noLog.stderr).toContain('no log found in data/; give it with --log FILE')
  })
})
