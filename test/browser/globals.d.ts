import type * as browserBuild from '../../src/browser.js'

// What the test pages put on `window` for page.evaluate() to use.
declare global {
  interface Window {
    harnessReady?: boolean
    tinyEventSourcing: (typeof browserBuild)['default']
    exported: typeof browserBuild
    // Objects a test keeps in the page between evaluate() calls.
    kept: Record<string, any>
  }
}
