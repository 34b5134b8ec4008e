// A re-creation of the original tiny-event-sourcing log's design, written for
// this benchmark from the behaviour its README describes: the whole log read
// into memory at open, one `fs.promises.appendFile` per event, and iterators
// that look for new events once a second.
import { appendFile, readFile } from 'node:fs/promises'

const pollMs = 1000

export async function initOriginalLog(filename) {
  let text = ''
  try {
    text = await readFile(filename, 'utf8')
  } catch (error) {
    if (error.code !== 'ENOENT') throw error
  }
  const events =
    text === ''
      ? []
      : text
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line))
  let closed = false
  const timers = new Set()
  return {
    get length() {
      return events.length
    },
    async append(event) {
      const stored = { ...event, index: events.length }
      events.push(stored)
      await appendFile(filename, `${JSON.stringify(stored)}\n`)
      return stored
    },
    async *events() {
      let position = 0
      while (!closed) {
        while (position < events.length) yield events[position++]
        await new Promise((resolve) => {
          const timer = setTimeout(() => {
            timers.delete(timer)
            resolve()
          }, pollMs)
          timers.add(timer)
        })
      }
    },
    close() {
      closed = true
      for (const timer of timers) clearTimeout(timer)
    },
  }
}
