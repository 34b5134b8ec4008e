import { initLog } from 'tiny-event-sourcing'

interface BookmarkEvent {
  type: 'bookmark'
  payload: { url: string }
}

interface InfoEvent {
  type: 'info'
  payload: { url: string; title: string; faviconUrl: string | null }
}

type DomainEvent = BookmarkEvent | InfoEvent

const log = await initLog<DomainEvent>({
  filename: '/tmp/bookmark-service/log.ndjson',
  upcast: (stored) => {
    if ('payload' in stored) return stored // already in the current shape
    const { type, index, _meta, ...payload } = stored // the log puts both back
    return { type, payload }
  },
})

for await (const event of log.events()) {
  console.log(event.index, event.type, event.payload.url) // old and new events alike
}
