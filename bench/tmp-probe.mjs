import pg from 'pg'
import { initLog } from '../dist/index.js'
import { postgresStorage } from '../dist/postgres.js'
import { startTestServer } from '../test/postgres/embedded-server.mjs'
const server = await startTestServer()
const pool = new pg.Pool({ connectionString: server.url, max: 4 })
const N = 100000
const l = await initLog({ storage: postgresStorage({ pool, log: 'x' }) })
const p = []
for (let n = 0; n < N; n++) p.push(l.append({ type: 'bookmark', n, url: `https://example.com/page/${n}`, tags: ['a', 'b'], at: '2026-01-01T00:00:00.000Z' }))
let t = performance.now(); await Promise.all(p); console.log('append', performance.now() - t)
await l.close()
for (let rep = 0; rep < 2; rep++) {
  const s = postgresStorage({ pool, log: 'x' })
  t = performance.now(); await s.open(); console.log('open', performance.now() - t)
  t = performance.now(); let c = 0; for await (const b of s.read(0)) c += b.length; console.log('storage.read', c, performance.now() - t)
  await s.close()
  t = performance.now()
  const r = await pool.query(`SELECT index::text AS index, event::text AS event FROM tiny_event_sourcing.events WHERE log = $1 ORDER BY events.index`, ['x'])
  console.log('one select text', performance.now() - t)
  t = performance.now()
  for (let i = 0; i < r.rows.length; i += 1000) await pool.query(`SELECT index::text AS index, event::text AS event FROM tiny_event_sourcing.events WHERE log = $1 AND index >= $2 ORDER BY events.index LIMIT 1000`, ['x', i])
  console.log('100 selects', performance.now() - t)
  const l2 = await initLog({ storage: postgresStorage({ pool, log: 'x' }) })
  t = performance.now(); for await (const e of l2.events()) { if (e.index === N - 1) break }; console.log('log replay', performance.now() - t)
  await l2.close()
}
await pool.end(); await server.stop()
