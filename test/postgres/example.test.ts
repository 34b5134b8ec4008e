/**
 * The README's "When your prototype grows up": the bookmark service of the six
 * steps moved from files to PostgreSQL, with its subscribers unchanged.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startPageServer, startProgram, unreachableUrl, type RunningProgram } from '../examples/helpers.js'
import { distEntry } from '../helpers/dist.js'
import { poll } from '../helpers/poll.js'
import { usePostgres } from './server.js'

const server = usePostgres()
const root = new URL('../../', import.meta.url)
const example = (name: string) => readFile(new URL(`examples/bookmarks/${name}`, root), 'utf8')

describe('examples/bookmarks/six-steps-postgres.ts', () => {
  it('is the six steps with only the log (step 2) and the state stores (step 4) changed', async () => {
    const [files, postgres] = await Promise.all([example('six-steps.ts'), example('six-steps-postgres.ts')])
    // Cuts out step 2 (from after the event types to the read-model types of step 3) and step 4 (to step 5's first import).
    const withoutSteps2And4 = (source: string) => {
      const step2 = source.indexOf('\n', source.indexOf('type DomainEvent ='))
      const step3 = source.indexOf('interface BookmarksReadModel')
      const step4 = source.indexOf('import { initStateStore')
      const step5 = source.indexOf('import { catchupSubscribe }')
      expect([step2, step3, step4, step5].every((at, i, all) => at > (all[i - 1] ?? 0))).toBe(true)
      return source.slice(0, step2) + source.slice(step3, step4) + source.slice(step5)
    }
    expect(withoutSteps2And4(postgres)).toBe(withoutSteps2And4(files))
    expect(postgres).not.toContain('fsStoreBackend')
    expect(postgres).not.toContain('filename')
  })

  describe('moving the running service', () => {
    const running = new Set<RunningProgram>()
    let folder: string
    beforeAll(async () => {
      // Under node_modules, so that the programs' `import pg from 'pg'` resolves.
      await mkdir(fileURLToPath(new URL('node_modules/.cache', root)), { recursive: true })
      folder = await mkdtemp(fileURLToPath(new URL('node_modules/.cache/tes-grow-up-', root)))
      const dist = new URL('.', distEntry())
      for (const name of ['six-steps.ts', 'six-steps-postgres.ts', 'move-to-postgres.ts']) {
        // Node 20 runs JavaScript: strip the types, and point the imports at the built package and the helper.
        const javascript = ts
          .transpileModule(await example(name), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
          .outputText.replaceAll("from 'tiny-event-sourcing/postgres'", `from ${JSON.stringify(new URL('postgres.js', dist).href)}`)
          .replaceAll("from 'tiny-event-sourcing'", `from ${JSON.stringify(new URL('index.js', dist).href)}`)
          .replace("from './page-info.mjs'", `from ${JSON.stringify(pathToFileURL(fileURLToPath(new URL('examples/bookmarks/page-info.mjs', root))).href)}`)
        await writeFile(join(folder, name.replace(/\.ts$/, '.mjs')), javascript)
      }
    })
    afterEach(() => {
      for (const program of running) program.child.kill('SIGKILL')
      running.clear()
    })
    afterAll(async () => {
      await rm(folder, { recursive: true, force: true })
    })

    it('keeps every bookmark, fetches no page twice, and goes on in PostgreSQL', async () => {
      const pages = await startPageServer()
      try {
        const port = new URL(await unreachableUrl()).port
        const base = `http://127.0.0.1:${port}/bookmarks`
        const env = { PORT: port, DATABASE_URL: server.url }
        const start = async (script: string) => {
          const program = startProgram([script], { cwd: folder, env })
          running.add(program)
          await poll(
            () =>
              fetch(base).then(
                (response) => response.ok,
                () => false,
              ),
            (ok) => ok,
          )
          return program
        }
        const stop = async (program: RunningProgram) => {
          program.child.kill('SIGTERM')
          await program.exited
        }
        type Model = { byUrl: Record<string, { title: string }> }
        const getModel = async () => (await (await fetch(base)).json()) as Model
        const post = (url: string) => fetch(base, { method: 'POST', body: JSON.stringify({ url }) })

        // The prototype, on files.
        let program = await start('six-steps.mjs')
        expect((await post(pages.url('/a'))).status).toBe(202)
        await poll(getModel, (model) => Object.keys(model.byUrl).length === 1)
        await poll(
          () =>
            readFile(join(folder, 'data', 'info-fetcher.json'), 'utf8').then(
              (text) => JSON.parse(text) as { _version: number },
              () => ({ _version: -1 }),
            ),
          (envelope) => envelope._version === 1,
        )
        await stop(program)

        // The move, then the same service on PostgreSQL.
        const move = startProgram(['move-to-postgres.mjs'], { cwd: folder, env })
        expect(await move.exited, move.output()).toBe(0)
        expect(move.output()).toBe('moved 2 events and the read models to PostgreSQL\n')

        program = await start('six-steps-postgres.mjs')
        expect(await getModel()).toEqual({
          byUrl: { [pages.url('/a')]: { url: pages.url('/a'), title: 'Page A & friends', faviconUrl: pages.url('/icons/a.png') } },
        })
        expect((await post(pages.url('/c'))).status).toBe(202)
        await poll(getModel, (model) => Object.keys(model.byUrl).length === 2)
        expect(pages.hits.get('/a')).toBe(1)
        expect(pages.hits.get('/c')).toBe(1)
        expect(program.output()).toBe('')
        await stop(program)

        const pool = server.pool()
        const { rows } = await pool.query(`SELECT index::int, event->>'type' AS type FROM tiny_event_sourcing.events WHERE log = 'bookmarks' ORDER BY index`)
        expect(rows).toEqual([
          { index: 0, type: 'bookmark' },
          { index: 1, type: 'info' },
          { index: 2, type: 'bookmark' },
          { index: 3, type: 'info' },
        ])
      } finally {
        await pages.close()
      }
    }, 90_000)
  })
})
