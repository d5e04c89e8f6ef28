import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../../observability/metrics.js'
import type { FeedEvent, MessageStore } from '../../storage/message-store.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import {
  EventPageSchema,
  type EventsQuery,
  EventsQuerySchema,
  type EventsStreamQuery,
  EventsStreamQuerySchema,
  QUERY_ERRORS,
  READ_ERRORS,
  textAnswer,
} from '../schemas.js'

/** Events one stream read sends before it looks again. */
const STREAM_CHUNK = 500

export interface EventsDeps {
  store: MessageStore
  metrics: Metrics
}

const wire = (event: FeedEvent) => ({
  id: String(event.seq),
  type: event.type,
  created_at: event.created_at,
  data: event.data,
})

/** A position from the API: an event id, the feed's end (`end`), or the beginning. */
function position(store: MessageStore, id: string | undefined | null): Promise<number> {
  if (id === 'end') return store.feedHead()
  return Promise.resolve(id && /^[0-9]{1,15}$/.test(id) ? Number(id) : 0)
}

/**
 * Resolves at the next commit that may have added events, when `signal` aborts (the client
 * left, the app is closing), or after `ms`. Subscribe before the read that found nothing,
 * so a commit in between is not missed.
 */
function nextCommit(store: MessageStore, signal: AbortSignal, ms: number) {
  let wake: () => void = () => {}
  const woken = new Promise<void>((resolve) => {
    wake = resolve
  })
  const timer = Number.isFinite(ms) ? setTimeout(wake, ms) : undefined
  const stop = store.onEvents(wake)
  signal.addEventListener('abort', wake, { once: true })
  return {
    woken,
    dispose() {
      clearTimeout(timer)
      stop()
      signal.removeEventListener('abort', wake)
    },
  }
}

/**
 * The feed (SPEC 2.4): GET /events pages through it (long-polling with `wait`), GET
 * /events/stream sends it as Server-Sent Events. Both wait on the store's commit
 * notification, never on a timer.
 */
export async function eventsRoutes(app: FastifyInstance, deps: EventsDeps) {
  const { store, metrics } = deps
  // Aborted when the app closes: waiting requests answer and streams end, so shutdown
  // does not wait out a long-poll or a stream.
  const closing = new AbortController()
  app.addHook('preClose', (done) => {
    closing.abort()
    done()
  })

  app.get<{ Querystring: EventsQuery }>(
    '/events',
    {
      schema: {
        summary: 'Page through the feed in commit order; `wait` long-polls for the next event',
        tags: ['feed'],
        querystring: EventsQuerySchema,
        response: {
          200: {
            ...EventPageSchema,
            description: 'Events after `after`; `next` is the position to ask from next',
          },
          ...QUERY_ERRORS,
          ...READ_ERRORS,
        },
      },
    },
    async (request) => {
      const { limit, wait } = request.query
      const after = await position(store, request.query.after)
      let events = await store.readEvents(after, limit)
      if (events.length === 0 && wait > 0 && !closing.signal.aborted) {
        const left = new AbortController()
        const onClose = () => left.abort()
        request.raw.once('close', onClose)
        const gone = AbortSignal.any([left.signal, closing.signal])
        const deadline = Date.now() + wait * 1000
        try {
          for (;;) {
            const commit = nextCommit(store, gone, deadline - Date.now())
            try {
              events = await store.readEvents(after, limit)
              if (events.length > 0 || gone.aborted || Date.now() >= deadline) break
              await commit.woken
            } finally {
              commit.dispose()
            }
          }
        } finally {
          request.raw.off('close', onClose)
        }
      }
      const last = events.at(-1)
      return { data: events.map(wire), next: String(last === undefined ? after : last.seq) }
    },
  )
  refuseOtherMethods(app, '/events', ['GET'])

  app.get<{ Querystring: EventsStreamQuery }>(
    '/events/stream',
    // 'manual': every client gets the stream, whatever its Accept header says.
    {
      sse: { kind: 'manual', heartbeat: true },
      schema: {
        summary: 'The feed as Server-Sent Events, resumable with Last-Event-ID',
        description:
          'Each event: `id` (the event id), `event` (its type) and `data` (the event as GET /events shows it). A comment line is sent every EVENTS_HEARTBEAT_MS.',
        tags: ['feed'],
        querystring: EventsStreamQuerySchema,
        headers: Type.Object({
          'last-event-id': Type.Optional(Type.String({ description: 'Resume after this event id' })),
        }),
        response: {
          200: textAnswer('text/event-stream', 'The stream, until the client or the server ends it'),
          ...QUERY_ERRORS,
        },
      },
    },
    async (request, reply) => {
      // A reconnecting EventSource sends Last-Event-ID; it wins over the URL's ?after=.
      let after = await position(store, reply.sse.lastEventId ?? request.query.after)
      const ended = new AbortController()
      const gone = AbortSignal.any([ended.signal, closing.signal])
      reply.sse.keepAlive()
      reply.sse.sendHeaders()
      // Now, not with the first event: a client sees the stream open at once (EventSource's
      // open event, a fetch resolving) even when nothing new is there yet.
      reply.raw.flushHeaders()
      metrics.streamClients.inc()
      reply.sse.onClose(() => {
        metrics.streamClients.dec()
        ended.abort()
      })
      closing.signal.addEventListener('abort', () => reply.sse.close(), { once: true })
      void (async () => {
        while (!gone.aborted) {
          const commit = nextCommit(store, gone, Number.POSITIVE_INFINITY)
          try {
            const events = await store.readEvents(after, STREAM_CHUNK)
            for (const event of events) {
              if (gone.aborted) return
              await reply.sse.send({ id: String(event.seq), event: event.type, data: wire(event) })
              after = event.seq
            }
            if (events.length < STREAM_CHUNK) await commit.woken
          } finally {
            commit.dispose()
          }
        }
      })().catch((error: unknown) => {
        // The store is away or the client went: end the stream; the client resumes from
        // its Last-Event-ID when it reconnects.
        if (!gone.aborted) request.log.warn({ err: error, request_id: request.id }, 'event stream ended')
        reply.sse.close()
      })
    },
  )
  refuseOtherMethods(app, '/events/stream', ['GET'])
}
