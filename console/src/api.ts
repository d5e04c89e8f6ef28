// The console's only way to Inlet's data: the public HTTP API, same origin, with the read
// token (and for deletes and retries the admin token) as a bearer header.
import type {
  DeliveryPageAnswer,
  MessageDetailAnswer,
  StatsAnswer,
  StatusDetailAnswer,
  TimelineAnswer,
} from '../../src/http/schemas.js'
import type { ListedMessage } from './live-filter.js'
import { nextCursor, type Window } from './paging.js'
import type { Bucket, DeliveryStatus, InboxFilters } from './routes.js'

export type { ListedMessage }
export type MessageDetail = MessageDetailAnswer
export type StatusDetail = StatusDetailAnswer
export type Stats = StatsAnswer
export type TimelinePoint = TimelineAnswer['data'][number]
export type Delivery = DeliveryPageAnswer['data'][number]

export interface MessagePage {
  data: ListedMessage[]
  total: number
  /** The cursor of the next page in the API's order, or null. */
  next: string | null
}

/** An answer that was not 2xx: its status and the API's `detail` (or a line saying what failed). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail)
  }
}

function detailOf(status: number, body: unknown): string {
  const detail = (body as { detail?: unknown } | null)?.detail
  if (typeof detail === 'string') return detail
  if (Array.isArray(detail)) return detail.map((item) => (item as { msg?: string }).msg ?? '').join('; ')
  return `HTTP ${status}`
}

export interface Tokens {
  read: () => string | null
  admin: () => string | null
}

export class Api {
  constructor(
    private readonly tokens: Tokens,
    private readonly fetchImpl: typeof fetch = (...args) => fetch(...args),
  ) {}

  private async call(method: string, path: string, token: string | null): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (token !== null) headers.authorization = `Bearer ${token}`
    let response: Response
    try {
      response = await this.fetchImpl(path, { method, headers })
    } catch {
      throw new ApiError(0, 'Inlet cannot be reached')
    }
    if (!response.ok) {
      const body = await response.json().catch(() => null)
      throw new ApiError(response.status, detailOf(response.status, body))
    }
    return response
  }

  private async get<T>(path: string): Promise<T> {
    return (await (await this.call('GET', path, this.tokens.read())).json()) as T
  }

  /** A page in the API's order: after `cursor`, or the window at `window`. */
  async messages(filters: InboxFilters, page: { cursor: string | null } | Window): Promise<MessagePage> {
    const params = new URLSearchParams()
    if (filters.q !== '') params.set('q', filters.q)
    if (filters.from !== '') params.set('from', filters.from)
    if (filters.since !== '') params.set('since', filters.since)
    if ('cursor' in page) {
      params.set('limit', '50')
      if (page.cursor !== null) params.set('cursor', page.cursor)
    } else {
      params.set('limit', String(page.limit))
      params.set('offset', String(page.offset))
    }
    const response = await this.call('GET', `/messages?${params}`, this.tokens.read())
    const body = (await response.json()) as { data: ListedMessage[]; total: number }
    return { data: body.data, total: body.total, next: nextCursor(response.headers.get('link')) }
  }

  message(id: string): Promise<MessageDetail> {
    return this.get(`/messages/${encodeURIComponent(id)}`)
  }

  /** The message's statuses, or null when it has none (most messages Inlet stores). */
  async status(id: string): Promise<StatusDetail | null> {
    try {
      return await this.get<StatusDetail>(`/statuses/${encodeURIComponent(id)}`)
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null
      throw error
    }
  }

  stats(): Promise<Stats> {
    return this.get('/stats')
  }

  async timeline(bucket: Bucket): Promise<TimelinePoint[]> {
    const buckets = bucket === 'day' ? 30 : 48
    return (await this.get<{ data: TimelinePoint[] }>(`/stats/timeline?bucket=${bucket}&buckets=${buckets}`))
      .data
  }

  deliveries(
    status: DeliveryStatus,
    cursor: string | null,
  ): Promise<{ data: Delivery[]; next: string | null }> {
    const params = new URLSearchParams({ status, limit: '50' })
    if (cursor !== null) params.set('cursor', cursor)
    return this.get(`/deliveries?${params}`)
  }

  /** The position of the feed's last event: where the live stream starts. */
  async feedHead(): Promise<string> {
    return (await this.get<{ next: string }>('/events?after=end&limit=1')).next
  }

  async deleteMessage(id: string): Promise<void> {
    await this.call('DELETE', `/messages/${encodeURIComponent(id)}`, this.tokens.admin())
  }

  async retryDelivery(id: number): Promise<void> {
    await this.call('POST', `/deliveries/${id}/retry`, this.tokens.admin())
  }
}
