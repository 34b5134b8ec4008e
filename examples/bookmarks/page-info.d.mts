/** Types of page-info.mjs, for the TypeScript examples. */
export function findTitle(html: string): string | undefined
export function findFaviconUrl(html: string, pageUrl: string): string
export function fetchPageInfo(url: string, options?: { signal?: AbortSignal }): Promise<{ title: string; faviconUrl: string }>
