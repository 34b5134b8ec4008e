/**
 * The TSDoc users see on hover, read from the built declaration files (what
 * an editor reads), not from the sources: every exported function and every
 * method of an exported interface carries an `@example`, and every optional
 * property of an exported `*Options` interface says its `@default`. The
 * declarations come from `npm run build` (`npm test` builds first).
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
/**
 * Interfaces that describe another library's objects (a `pg` client and
 * pool, a test runner's `describe`/`it`): their methods are documented there.
 */
const foreignShapes = new Set(['PostgresClient', 'PostgresPool', 'PostgresQuery', 'TestRunner'])
const entries = ['index', 'browser', 'postgres', 'testing'].map((name) => join(root, 'dist', `${name}.d.ts`))

function hasTag(declaration: ts.Node, tag: string): boolean {
  return ts.getJSDocTags(declaration).some((found) => found.tagName.text === tag)
}

/** What each entry exports that lacks its doc tags, one line per gap, e.g. `index: initLog lacks @example`. */
function missingDocs(): string[] {
  const program = ts.createProgram(entries, { noEmit: true, skipLibCheck: true, types: [] })
  const checker = program.getTypeChecker()
  const gaps = new Set<string>()
  for (const file of entries) {
    const source = program.getSourceFile(file)
    if (!source) throw new Error(`${file} is not in the program`)
    const entry = file.slice(file.lastIndexOf('/') + 1, -'.d.ts'.length)
    const moduleSymbol = checker.getSymbolAtLocation(source)
    if (!moduleSymbol) throw new Error(`${file} has no exports`)
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
      const name = exported.name
      for (const declaration of symbol.declarations ?? []) {
        if (ts.isFunctionDeclaration(declaration) && !hasTag(declaration, 'example')) {
          gaps.add(`${entry}: ${name} lacks @example`)
        }
        if (!ts.isInterfaceDeclaration(declaration)) continue
        if (foreignShapes.has(name)) continue
        const options = name.endsWith('Options')
        const type = checker.getDeclaredTypeOfSymbol(symbol)
        for (const property of checker.getPropertiesOfType(type)) {
          for (const member of property.declarations ?? []) {
            if (!ts.isMethodSignature(member) && !ts.isPropertySignature(member)) continue
            // An optional member of an options object is an option, method or not.
            if (options && member.questionToken) {
              if (!hasTag(member, 'default')) gaps.add(`${entry}: ${name}.${property.name} lacks @default`)
            } else if (ts.isMethodSignature(member) && !hasTag(member, 'example')) {
              gaps.add(`${entry}: ${name}.${property.name} lacks @example`)
            }
          }
        }
      }
    }
  }
  return [...gaps].sort()
}

describe('TSDoc in the built declarations', () => {
  it('finds the declaration files (run `npm run build` first)', () => {
    for (const file of entries) expect(existsSync(file), `${file} is missing: run npm run build`).toBe(true)
  })

  it('gives every exported function and method an @example, and every optional option a @default', () => {
    expect(missingDocs()).toEqual([])
  })
})
