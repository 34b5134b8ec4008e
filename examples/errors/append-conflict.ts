import { initLog, isTinyEventSourcingError, memoryStorage } from 'tiny-event-sourcing'

const log = await initLog<{ type: 'counted'; n: number }>({ storage: memoryStorage() })
const event = { type: 'counted', n: 1 } as const
const expectedLastIndex = log.length - 1
await log.append({ type: 'counted', n: 0 }) // another writer got there first

try {
  await log.append(event, { expectedLastIndex })
} catch (error) {
  if (!isTinyEventSourcingError(error, 'APPEND_CONFLICT')) throw error
  console.log(`the log is at ${error.actualLastIndex} already`)
}
