// Where the console is: its view and filters live in the URL, so a view can be shared and
// the browser's back button works. Pure functions: unit-tested in Node.

export const BASE = '/console'

export type Order = 'newest' | 'oldest'
export type Bucket = 'day' | 'hour'
export type DeliveryStatus = 'pending' | 'failed' | 'delivered'

/** The inbox's filters, as GET /messages takes them (empty string: no filter). */
export interface InboxFilters {
  q: string
  from: string
  since: string
  order: Order
}

export type Route =
  | { view: 'inbox'; filters: InboxFilters; messageId: string | null }
  | { view: 'stats'; bucket: Bucket }
  | { view: 'deliveries'; status: DeliveryStatus }

export const NO_FILTERS: InboxFilters = { q: '', from: '', since: '', order: 'newest' }

/** A sender typed or pasted with its `+` decoded to a space (as a query string does) means the `+`. */
export function normalizeSender(from: string): string {
  const trimmed = from.trim()
  return from.startsWith(' ') && /^[0-9]/.test(trimmed) ? `+${trimmed}` : trimmed
}

export function parseRoute(pathname: string, search: string): Route {
  const params = new URLSearchParams(search)
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname
  if (rest === '/stats') return { view: 'stats', bucket: params.get('bucket') === 'hour' ? 'hour' : 'day' }
  if (rest === '/deliveries') {
    const status = params.get('status')
    return { view: 'deliveries', status: status === 'failed' || status === 'delivered' ? status : 'pending' }
  }
  const filters: InboxFilters = {
    q: params.get('q') ?? '',
    from: normalizeSender(params.get('from') ?? ''),
    since: params.get('since') ?? '',
    order: params.get('order') === 'oldest' ? 'oldest' : 'newest',
  }
  const message = /^\/messages\/(.+)$/.exec(rest)
  let messageId: string | null = null
  if (message?.[1] !== undefined) {
    try {
      messageId = decodeURIComponent(message[1])
    } catch {
      messageId = null
    }
  }
  return { view: 'inbox', filters, messageId }
}

/** The inbox filters that differ from the defaults, as query parameters. */
export function filterParams(filters: InboxFilters): URLSearchParams {
  const params = new URLSearchParams()
  if (filters.q !== '') params.set('q', filters.q)
  if (filters.from !== '') params.set('from', filters.from)
  if (filters.since !== '') params.set('since', filters.since)
  if (filters.order === 'oldest') params.set('order', 'oldest')
  return params
}

export function routeHref(route: Route): string {
  const withQuery = (path: string, params: URLSearchParams) => {
    const query = params.toString()
    return query === '' ? path : `${path}?${query}`
  }
  switch (route.view) {
    case 'stats':
      return withQuery(
        `${BASE}/stats`,
        new URLSearchParams(route.bucket === 'hour' ? { bucket: 'hour' } : {}),
      )
    case 'deliveries':
      return withQuery(
        `${BASE}/deliveries`,
        new URLSearchParams(route.status === 'pending' ? {} : { status: route.status }),
      )
    case 'inbox': {
      const path = route.messageId === null ? BASE : `${BASE}/messages/${encodeURIComponent(route.messageId)}`
      return withQuery(path, filterParams(route.filters))
    }
  }
}
