// The benchmark's peers, loaded from this folder's own node_modules
// (`npm ci --prefix bench/peers`, which `npm run bench` does when they are missing),
// each only when a scenario needs it.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

export const emmett = () => import('@event-driven-io/emmett')
/** node-event-storage's `EventStore` class. */
export const eventStorage = async () => require('event-storage')
/** better-sqlite3's `Database` class. */
export const betterSqlite3 = async () => require('better-sqlite3')
