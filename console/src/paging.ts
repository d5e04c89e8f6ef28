// How the inbox pages. Oldest first is the API's own order: pages by the `Link` cursor
// (keyset). Newest first: the API lists in one direction only, so the inbox reads windows
// counted back from the end of the total it saw first (`offset`), and shows each reversed;
// messages that arrive later come from the live feed, not from these windows.

export interface Window {
  offset: number
  limit: number
}

/**
 * The window of the next newest-first page: `loaded` messages of `total` are shown
 * already. null when the start of the list is reached.
 */
export function newestWindow(total: number, loaded: number, pageSize: number): Window | null {
  const end = total - loaded
  if (end <= 0) return null
  const offset = Math.max(0, end - pageSize)
  return { offset, limit: end - offset }
}

/** The `cursor` of a `Link: <…>; rel="next"` header, or null when there is no next page. */
export function nextCursor(link: string | null): string | null {
  if (link === null) return null
  const match = /<([^>]*)>\s*;\s*rel="next"/.exec(link)
  if (match?.[1] === undefined) return null
  return new URL(match[1], 'http://inlet.invalid').searchParams.get('cursor')
}
