/**
 * Quotes a path for the command lines that errors and reports suggest, so
 * that what the user copies and pastes names exactly that file, spaces,
 * quotes and all.
 */

/** Quotes `word` for a POSIX shell (single quotes), or for cmd.exe and PowerShell on Windows (double quotes), only when it needs it. */
export function shellQuote(word: string): string {
  if (process.platform === 'win32') return /^[\w.:\\/-]+$/.test(word) ? word : `"${word}"` // Windows file names cannot contain `"`
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`
}
