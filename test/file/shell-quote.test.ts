import { execFileSync } from 'node:child_process'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { shellQuote } from '../../src/file/shell-quote.js'

/** What a real POSIX shell makes of `word` as one argument. */
function throughShell(word: string): string {
  return execFileSync('/bin/sh', ['-c', `printf '%s' ${shellQuote(word)}`], { encoding: 'utf8' })
}

describe('shellQuote', () => {
  it('leaves ordinary paths as they are', () => {
    expect(shellQuote('/var/data/log.ndjson')).toBe('/var/data/log.ndjson')
    expect(shellQuote('data/read-model_v2.json')).toBe('data/read-model_v2.json')
  })

  it('quotes spaces, quotes, $, backticks, globs and the like so that sh reads them back literally', () => {
    const words = [
      '/tmp/my logs/log.ndjson',
      "/tmp/it's/log.ndjson",
      '/tmp/"quoted"/log.ndjson',
      '/tmp/$HOME/`id`/$(id)/log.ndjson',
      '/tmp/*/?/[a]/log.ndjson',
      '/tmp/a;b&c|d>e<f/log.ndjson',
      '/tmp/~user/!x/#y/log.ndjson',
      '/tmp/back\\slash/log.ndjson',
      '/tmp/new\nline/log.ndjson',
      '/tmp/ünïcødé/日志.ndjson',
      "''",
      '',
    ]
    for (const word of words) {
      expect(shellQuote(word)).not.toBe(word)
      expect(throughShell(word)).toBe(word)
    }
  })

  it('round-trips any string through sh (property)', () => {
    // Arguments cannot hold NUL bytes, so no path can either.
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }).filter((word) => !word.includes('\0')),
        (word) => {
          expect(throughShell(word)).toBe(word)
        },
      ),
      { numRuns: 200 },
    )
  })
})
