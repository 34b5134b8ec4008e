// Deciding safely in one global log: each decision reads only the events
// about its seat, and appends under a condition about that seat, so
// reservations of different seats never conflict, and of two reservations
// of the same seat exactly one lands.

import { AppendConflictError, initLog, memoryStorage } from 'tiny-event-sourcing'

type SeatEvent =
  | { type: 'seat-reserved'; seat: string; by: string }
  | { type: 'seat-released'; seat: string; by: string }
  | { type: 'payment-requested'; by: string; amount: number }

const log = await initLog<SeatEvent>({ storage: memoryStorage() })

const aboutSeat = (seat: string) => ({ types: ['seat-reserved', 'seat-released'], where: { seat } })

/** Reserves `seat` for `by` unless someone holds it; resolves with whether it did. */
async function reserve(seat: string, by: string): Promise<boolean> {
  for (;;) {
    // Read what the log says about this seat now, and nothing else
    const seenUpTo = log.length - 1
    let holder: string | undefined
    for await (const event of log.events({ ...aboutSeat(seat), until: seenUpTo })) {
      holder = event.type === 'seat-reserved' ? event.by : undefined
    }
    if (holder !== undefined) return false
    try {
      // Both events land, or neither; and only if nobody decided about
      // this seat since the events just read
      await log.appendAll(
        [
          { type: 'seat-reserved', seat, by },
          { type: 'payment-requested', by, amount: 30 },
        ],
        { condition: { ...aboutSeat(seat), after: seenUpTo } },
      )
      return true
    } catch (error) {
      if (!(error instanceof AppendConflictError)) throw error
      // Someone else decided about this seat meanwhile: read again, decide again
    }
  }
}

// Three requests at once: two for seat 12A, one for 12B
console.log(await Promise.all([reserve('12A', 'ada'), reserve('12A', 'grace'), reserve('12B', 'linus')]))
// → [ true, false, true ]

for await (const event of log.events({ types: ['seat-reserved'], until: log.length - 1 })) {
  if (event.type === 'seat-reserved') console.log(event.index, event.seat, event.by)
}
// → 0 12A ada
// → 2 12B linus

await log.close()
