/** The timeline's buckets: round widths (a minute, an hour, a day; 10, 100, 1,000 events) so the chart's bars mean something. */

const second = 1000
const minute = 60 * second
const hour = 60 * minute
const day = 24 * hour

/** Bucket widths on the time axis, with how the page says "per …". */
const timeWidths: [number, string][] = [
  [second, 'second'],
  [2 * second, '2 seconds'],
  [5 * second, '5 seconds'],
  [10 * second, '10 seconds'],
  [30 * second, '30 seconds'],
  [minute, 'minute'],
  [2 * minute, '2 minutes'],
  [5 * minute, '5 minutes'],
  [10 * minute, '10 minutes'],
  [15 * minute, '15 minutes'],
  [30 * minute, '30 minutes'],
  [hour, 'hour'],
  [2 * hour, '2 hours'],
  [3 * hour, '3 hours'],
  [6 * hour, '6 hours'],
  [12 * hour, '12 hours'],
  [day, 'day'],
  [2 * day, '2 days'],
  [7 * day, 'week'],
  [14 * day, '2 weeks'],
  [30 * day, '30 days'],
  [91 * day, '91 days'],
  [365 * day, '365 days'],
]

/** At most this many bars: more would be thinner than a pixel or two. */
export const maxBuckets = 150

export interface Buckets {
  /** Start of the first bucket (ms, or an index). */
  from: number
  /** Width of each bucket. */
  width: number
  count: number
  /** `minute`, `5 minutes`, `100 events`… for "events per …". */
  unit: string
}

/** Round buckets covering [from, to] on the time axis. */
export function timeBuckets(from: number, to: number): Buckets {
  const span = Math.max(1, to - from)
  const [width, unit] = timeWidths.find(([width]) => span / width <= maxBuckets) ?? timeWidths.at(-1)!
  const start = Math.floor(from / width) * width
  return { from: start, width, count: Math.max(1, Math.ceil((to + 1 - start) / width)), unit }
}

/** Round buckets covering indices [from, to] on the index axis. */
export function indexBuckets(from: number, to: number): Buckets {
  const span = Math.max(1, to - from + 1)
  // 1, 2, 5, 10, 20, 50, 100…
  let width = 1
  for (let k = 0; span / width > maxBuckets; k++) width = [1, 2, 5][k % 3]! * 10 ** Math.floor(k / 3)
  const start = Math.floor(from / width) * width
  return {
    from: start,
    width,
    count: Math.max(1, Math.ceil((to + 1 - start) / width)),
    unit: width === 1 ? 'event' : `${width.toLocaleString('en-US')} events`,
  }
}
