// An event's cause and its flow: `causedBy` links an effect to the event that
// led to it, and the correlation id passes on from cause to effect.
import { initLog, memoryStorage } from 'tiny-event-sourcing'

type CheckoutEvent = { type: 'order-placed'; id: string } | { type: 'invoice-sent'; order: string }

const log = await initLog<CheckoutEvent>({ storage: memoryStorage() })

const order = await log.append({ type: 'order-placed', id: 'o-1' }, { correlationId: 'checkout-42' })
const invoice = await log.append({ type: 'invoice-sent', order: 'o-1' }, { causedBy: order })

console.log(invoice._meta) // { at: '2026-12-01T21:30:00.123Z', causedBy: 0, correlationId: 'checkout-42' }
await log.close()
