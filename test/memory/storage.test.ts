import { describe, it } from 'vitest'
import { memoryStorage } from '../../src/index.js'
import { describeLogStorage } from '../../src/testing/index.js'

describeLogStorage(
  'memoryStorage',
  {
    create: () => memoryStorage(),
    // The events live in the storage object itself: reopening is opening it again.
    reopen: (closed) => closed,
    follow: (writer) => writer,
  },
  { describe, it },
)
