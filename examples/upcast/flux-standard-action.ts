import { initLog, type Indexed } from 'tiny-event-sourcing'

interface BookmarkEvent {
  type: 'bookmark'
  payload: { url: string }
}

interface InfoEvent {
  type: 'info'
  payload: { url: string; title: string; faviconUrl: string | null }
}

type DomainEvent = BookmarkEvent | InfoEvent

// The shapes the log was first written with
type OldEvent = { type: 'bookmark'; url: string } | { type: 'info'; url: string; title: string; faviconUrl: string | null }

const log = await initLog<DomainEvent>({
  filename: '/tmp/bookmark-service/log.ndjson',
  upcast: (stored: Indexed<DomainEvent | OldEvent>): DomainEvent => {
    if ('payload' in stored) return stored // already in the current shape
    if (stored.type === 'bookmark') return { type: 'bookmark', payload: { url: stored.url } }
    const { url, title, faviconUrl } = stored
    return { type: 'info', payload: { url, title, faviconUrl } } // the log puts `index` and `_meta` back
  },
})

for await (const event of log.events()) {
  console.log(event.index, event.type, event.payload.url) // old and new events alike
}
