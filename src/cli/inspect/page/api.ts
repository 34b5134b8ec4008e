/** The page's one way to the server: every request carries the token the page was opened with. */
const token = new URLSearchParams(location.search).get('token') ?? ''

type Params = Record<string, string | number | readonly string[] | undefined>

/** `path?token=…&name=value…`; list values repeat the name; undefined values are left out. */
export function apiUrl(path: string, params: Params = {}): string {
  const search = new URLSearchParams({ token })
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue
    if (Array.isArray(value)) for (const item of value) search.append(name, item)
    else search.set(name, String(value))
  }
  return `${path}?${search}`
}

/** GETs JSON from the server; rejects with the server's own message. */
export async function getJson<T>(path: string, params: Params = {}): Promise<T> {
  const response = await fetch(apiUrl(path, params))
  const body = (await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }))) as T & { error?: string }
  if (!response.ok) throw new Error(body.error ?? `${response.status} ${response.statusText}`)
  return body
}
