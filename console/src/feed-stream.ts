// The live feed: GET /events/stream read with fetch, not EventSource, because EventSource
// cannot send the Authorization header that READ_API_TOKEN asks for. eventsource-parser
// reads the SSE text; this file adds the rest EventSource would do: reconnect with
// Last-Event-ID after a drop, growing delays, and noticing a stream gone silent (the server
// sends a heartbeat comment at least every 15 s).
import { createParser } from 'eventsource-parser'

export interface FeedEvent {
  id: string
  type: string
  data: unknown
}

export type StreamState = 'connecting' | 'live' | 'retrying' | 'unauthorized' | 'stopped'

export interface FeedStreamOptions {
  /** Where the stream starts: a position (an event id). Every event after it is delivered once. */
  after: string
  token: () => string | null
  onEvent: (event: FeedEvent) => void
  onState: (state: StreamState) => void
  fetch?: typeof fetch
  /** The wait before the n-th reconnect in a row (from 1). */
  retryDelayMs?: (attempt: number) => number
  /** No byte for this long: the connection is treated as dropped. */
  silenceMs?: number
  url?: string
}

export const retryDelay = (attempt: number): number => Math.min(15_000, 500 * 2 ** (attempt - 1))

export class FeedStream {
  private lastId: string
  private stopped = false
  private controller: AbortController | null = null
  private wake: (() => void) | null = null
  private readonly fetchImpl: typeof fetch
  private readonly delay: (attempt: number) => number
  private readonly silenceMs: number
  private serverRetryMs: number | null = null
  readonly done: Promise<void>

  constructor(private readonly options: FeedStreamOptions) {
    this.lastId = options.after
    this.fetchImpl = options.fetch ?? ((...args) => fetch(...args))
    this.delay = options.retryDelayMs ?? retryDelay
    this.silenceMs = options.silenceMs ?? 45_000
    this.done = this.run()
  }

  /** The id of the last event delivered: a new stream from here misses nothing. */
  get position(): string {
    return this.lastId
  }

  stop(): void {
    this.stopped = true
    this.controller?.abort()
    this.wake?.()
  }

  private async run(): Promise<void> {
    let attempt = 0
    while (!this.stopped) {
      this.options.onState(attempt === 0 ? 'connecting' : 'retrying')
      const outcome = await this.connect(() => {
        attempt = 0
      })
      if (this.stopped) break
      if (outcome === 'unauthorized') {
        this.options.onState('unauthorized')
        return
      }
      attempt++
      this.options.onState('retrying')
      await this.sleep(this.serverRetryMs ?? this.delay(attempt))
    }
    this.options.onState('stopped')
  }

  /** One connection, until it ends, fails or falls silent. */
  private async connect(onOpen: () => void): Promise<'unauthorized' | 'dropped'> {
    const controller = new AbortController()
    this.controller = controller
    let silence: ReturnType<typeof setTimeout> | undefined
    const heard = () => {
      clearTimeout(silence)
      silence = setTimeout(() => controller.abort(), this.silenceMs)
    }
    try {
      heard()
      const headers: Record<string, string> = { accept: 'text/event-stream', 'last-event-id': this.lastId }
      const token = this.options.token()
      if (token !== null) headers.authorization = `Bearer ${token}`
      const response = await this.fetchImpl(this.options.url ?? '/events/stream', {
        headers,
        signal: controller.signal,
        cache: 'no-store',
      })
      if (response.status === 401) return 'unauthorized'
      if (!response.ok || response.body === null) return 'dropped'
      onOpen()
      this.options.onState('live')
      const parser = createParser({
        onEvent: (message) => {
          // `data:` holds the event as GET /events lists it: {id, type, created_at, data}.
          const event = JSON.parse(message.data) as { type: string; data: unknown }
          if (message.id !== undefined) this.lastId = message.id
          this.options.onEvent({ id: this.lastId, type: event.type, data: event.data })
        },
        onRetry: (ms) => {
          this.serverRetryMs = ms
        },
      })
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return 'dropped'
        heard()
        parser.feed(value)
      }
    } catch {
      return 'dropped'
    } finally {
      clearTimeout(silence)
      controller.abort()
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }
}
