/**
 * The README and the pages under docs/, read as the tests need them: their
 * fenced code blocks (with the example region each sits in), their headings
 * as GitHub anchors them, and their links.
 */
import { readdirSync, readFileSync } from 'node:fs'

export const root = new URL('../../', import.meta.url)

export interface Page {
  /** Relative to the repository root: `README.md`, `docs/api.md`. */
  path: string
  text: string
}

/** README.md, then every docs/*.md in name order. */
export function pages(): Page[] {
  const docs = readdirSync(new URL('docs/', root))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`)
  return ['README.md', ...docs].map((path) => ({ path, text: readFileSync(new URL(path, root), 'utf8') }))
}

export function page(path: string): Page {
  return { path, text: readFileSync(new URL(path, root), 'utf8') }
}

export interface CodeBlock {
  page: string
  language: string
  code: string
  line: number
  /** The file the block comes from, from the region around it: `<!-- example: path -->` or `<!-- excerpt: path -->`, relative to the repository root. */
  example: string | undefined
  /** `example`: the region's blocks together are the whole file. `excerpt`: each block appears in the file. */
  kind: 'example' | 'excerpt' | undefined
}

/** Where a block is, for messages: `docs/api.md:120`. */
export const at = (block: CodeBlock) => `${block.page}:${block.line}`

/** The fenced code blocks of a page, each with the example region it sits in. */
export function codeBlocks({ path, text }: Page): CodeBlock[] {
  const blocks: CodeBlock[] = []
  const lines = text.split('\n')
  let example: string | undefined
  let kind: CodeBlock['kind']
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const region = /^<!-- (example|excerpt): (\S+) -->$/.exec(line.trim())
    if (region) {
      kind = region[1] as CodeBlock['kind']
      example = region[2]
    } else if (/^<!-- \/(example|excerpt) -->$/.test(line.trim())) {
      kind = undefined
      example = undefined
    }
    const fence = /^(`{3,})(\w*)/.exec(line)
    if (!fence) continue
    const start = i
    const code: string[] = []
    for (i++; i < lines.length && !lines[i]!.startsWith(fence[1]!); i++) code.push(lines[i]!)
    blocks.push({ page: path, language: fence[2]!, code: code.join('\n'), line: start + 1, example, kind })
  }
  return blocks
}

/** Trailing spaces and runs of blank lines do not count when a block is compared with its file. */
export const normalize = (code: string) =>
  code
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()

/** The page's text outside fenced code blocks, line numbers kept (code lines are blanked). */
function prose(text: string): string[] {
  let fence: string | undefined
  return text.split('\n').map((line) => {
    const opening = /^(`{3,})/.exec(line)
    if (fence === undefined && opening) {
      fence = opening[1]
      return ''
    }
    if (fence !== undefined) {
      if (line.startsWith(fence)) fence = undefined
      return ''
    }
    return line
  })
}

export interface Heading {
  level: number
  title: string
  /** GitHub's anchor for it: lower case, punctuation dropped, spaces to hyphens, `-1`, `-2` … for repeats. */
  anchor: string
}

export function headings({ text }: Page): Heading[] {
  const seen = new Map<string, number>()
  return prose(text).flatMap((line) => {
    const match = /^(#{1,6}) (.+)$/.exec(line)
    if (!match) return []
    const title = match[2]!.trim()
    const slug = title
      .toLowerCase()
      .replace(/[^\p{L}\p{N}_\- ]/gu, '')
      .replace(/ /g, '-')
    const repeats = seen.get(slug) ?? 0
    seen.set(slug, repeats + 1)
    return [{ level: match[1]!.length, title, anchor: repeats === 0 ? slug : `${slug}-${repeats}` }]
  })
}

export interface Link {
  text: string
  target: string
  line: number
}

/** The inline links `[text](target)` outside code blocks. */
export function links({ text }: Page): Link[] {
  return prose(text).flatMap((line, i) =>
    [...line.matchAll(/\[((?:[^\]`]|`[^`]*`)*)\]\(([^)\s]+)\)/g)].map((match) => ({ text: match[1]!, target: match[2]!, line: i + 1 })),
  )
}
