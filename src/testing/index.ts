/**
 * `tiny-event-sourcing/testing`: what a project's tests use, with no
 * dependency on any test runner. The contract suites every `LogStorage` and
 * `StateStoreBackend` must pass (the ones this package's own storages run),
 * and their assertion error.
 */
export { TestAssertionError } from './assert.js'
export { describeLogStorage } from './log-storage-contract.js'
export type { LogStorageFixture } from './log-storage-contract.js'
export type { TestRunner } from './runner.js'
export { describeStateStoreBackend } from './state-store-backend-contract.js'
export type { StateStoreBackendFixture } from './state-store-backend-contract.js'
export { given } from './given.js'
export type { EventHandler, Given, HandlerSpec, ReducedSpec, UpcastSpec } from './given.js'
export { assertDeterministic } from './reducer-check.js'
export type { Reducer } from './reducer-check.js'
