// The contract suites a LogStorage or StateStoreBackend of your own must
// pass: the ones every storage and backend of this package runs. Here they
// run against the in-memory ones; put yours in their place.
import { describe, it } from 'node:test' // or: from 'vitest'
import { memoryStorage, memoryStoreBackend } from 'tiny-event-sourcing'
import { describeLogStorage, describeStateStoreBackend } from 'tiny-event-sourcing/testing'

describeLogStorage(
  'memoryStorage',
  {
    // A storage over fresh, empty data, for each test.
    create: () => memoryStorage(),
    // Optional: a new storage object over the data of one the suite closed, as after a restart.
    reopen: (closed) => closed,
    // Optional: a second storage object over the data of an open one, as another process would follow it.
    follow: (writer) => writer,
  },
  { describe, it },
)

describeStateStoreBackend(
  'memoryStoreBackend',
  {
    // A backend on a fresh, empty place (a file, a key, a row), for each test.
    create: (initialState) => memoryStoreBackend(initialState),
    // Optional: a new backend object on the same place as one the suite wrote with.
    reopen: (previous, initialState) => (initialState === undefined ? previous : { ...previous, initialState }),
  },
  { describe, it },
)
