import { type Static, Type } from '@sinclair/typebox'
import { MESSAGE_STATUSES } from '../domain/message-status.js'

// One schema per public shape: it validates requests, serializes responses and types the code.

export { type WebhookBody, WebhookBodySchema } from '../sources/webhook/body.js'

/** A query-string integer: sent as text, validated and converted by `queryInteger` (validation.ts). */
const QueryInteger = (minimum: number, maximum: number, fallback: number) =>
  Type.Unsafe<number>({ type: 'string', queryInteger: { minimum, maximum }, default: String(fallback) })

/** The filters of /messages, which /export takes too. */
const MessageFilterProperties = {
  from: Type.Optional(
    Type.String({ description: 'The sender, exactly (an unencoded + reads as a space: both work)' }),
  ),
  since: Type.Optional(
    Type.String({ format: 'timestamp', description: 'Messages at or after this instant' }),
  ),
  // A text holds at most 4096 characters, so a longer q could never match.
  q: Type.Optional(
    Type.String({ maxLength: 4096, description: 'Case-insensitive literal substring of text' }),
  ),
}
export type MessageFilterQuery = { from?: string; since?: string; q?: string }

export const MessagesQuerySchema = Type.Object({
  limit: QueryInteger(1, 100, 50),
  offset: QueryInteger(0, Number.MAX_SAFE_INTEGER, 0),
  ...MessageFilterProperties,
  /** Opaque, from a previous page's `Link: <…>; rel="next"`. */
  cursor: Type.Optional(Type.String({ maxLength: 2048 })),
})
export type MessagesQuery = Static<typeof MessagesQuerySchema>

export const ExportQuerySchema = Type.Object({
  format: Type.Union([Type.Literal('ndjson'), Type.Literal('csv')], { default: 'ndjson' }),
  ...MessageFilterProperties,
})
export type ExportQuery = Static<typeof ExportQuerySchema>

const MessageSchema = Type.Object({
  message_id: Type.String(),
  from: Type.String(),
  to: Type.String(),
  ts: Type.String(),
  text: Type.Union([Type.String(), Type.Null()]),
})

export const MessagePageSchema = Type.Object({
  data: Type.Array(MessageSchema),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
})

/** GET /messages/{message_id}: the five fields and what is kept beside them (SPEC 2.3). */
export const MessageDetailSchema = Type.Object({
  ...MessageSchema.properties,
  source: Type.Union([Type.Literal('webhook'), Type.Literal('whatsapp')]),
  type: Type.Union([Type.String(), Type.Null()]),
  contact_name: Type.Union([Type.String(), Type.Null()]),
  received_at: Type.String(),
  // The provider's item as it sent it (a JSON object), or null.
  payload: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
})

export const MessageParamsSchema = Type.Object({ message_id: Type.String() })

export const ErasureQuerySchema = Type.Object({
  from: Type.String({
    minLength: 1,
    maxLength: 64,
    description: 'The sender whose messages are all deleted',
  }),
})
export type ErasureQuery = Static<typeof ErasureQuerySchema>

export const ErasureSchema = Type.Object({ deleted: Type.Integer() })
export type MessageParams = Static<typeof MessageParamsSchema>

const StatusNameSchema = Type.Union(MESSAGE_STATUSES.map((s) => Type.Literal(s)))

/** GET /statuses/{message_id}, and each item of GET /statuses. */
export const StatusDetailSchema = Type.Object({
  message_id: Type.String(),
  recipient_id: Type.String(),
  status: StatusNameSchema,
  updated_at: Type.String(),
  history: Type.Array(
    Type.Object({
      status: StatusNameSchema,
      ts: Type.String(),
      errors: Type.Union([Type.Array(Type.Unknown()), Type.Null()]),
    }),
  ),
})

export const StatusesQuerySchema = Type.Object({
  limit: QueryInteger(1, 100, 50),
  offset: QueryInteger(0, Number.MAX_SAFE_INTEGER, 0),
  status: Type.Optional(StatusNameSchema),
  recipient: Type.Optional(Type.String()),
  since: Type.Optional(Type.String({ format: 'timestamp' })),
  cursor: Type.Optional(Type.String({ maxLength: 2048 })),
})
export type StatusesQuery = Static<typeof StatusesQuerySchema>

export const StatusPageSchema = Type.Object({
  data: Type.Array(StatusDetailSchema),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
})

export const StatsSchema = Type.Object({
  total_messages: Type.Integer(),
  senders_count: Type.Integer(),
  messages_per_sender: Type.Array(Type.Object({ from: Type.String(), count: Type.Integer() })),
  first_message_ts: Type.Union([Type.String(), Type.Null()]),
  last_message_ts: Type.Union([Type.String(), Type.Null()]),
})

export const TimelineQuerySchema = Type.Object({
  bucket: Type.Union([Type.Literal('day'), Type.Literal('hour')], {
    default: 'day',
    description: 'Group by the UTC day or hour of `ts`',
  }),
  buckets: QueryInteger(1, 744, 30),
})
export type TimelineQuery = Static<typeof TimelineQuerySchema>

export const TimelineSchema = Type.Object({
  bucket: Type.Union([Type.Literal('day'), Type.Literal('hour')]),
  data: Type.Array(
    Type.Object({
      start: Type.String({ description: "The bucket's first instant, `YYYY-MM-DDTHH:MM:SSZ`" }),
      count: Type.Integer(),
    }),
  ),
})

export const StatusSchema = Type.Object({ status: Type.String() })

export const ReadinessSchema = Type.Object({
  status: Type.String(),
  checks: Type.Object({
    database: Type.Boolean(),
    schema: Type.Boolean(),
    webhook_secret: Type.Boolean(),
  }),
})

/** A feed position as the API shows it (opaque to clients: compare ids for equality only). */
const EventCursor = (description: string) =>
  Type.String({
    pattern: '^([0-9]{1,15}|end)$',
    description: `${description}; \`end\`: after the feed's last event, so only events committed from now on`,
  })

export const EventsQuerySchema = Type.Object({
  after: Type.Optional(
    EventCursor("Start after this event id (a previous page's `next`); omitted: from the beginning"),
  ),
  limit: QueryInteger(1, 1000, 100),
  wait: QueryInteger(0, 30, 0),
})
export type EventsQuery = Static<typeof EventsQuerySchema>

export const EventsStreamQuerySchema = Type.Object({
  after: Type.Optional(EventCursor('Start after this event id; the Last-Event-ID header wins over it')),
})
export type EventsStreamQuery = Static<typeof EventsStreamQuerySchema>

const DeletionReasonSchema = Type.Union([
  Type.Literal('single'),
  Type.Literal('erasure'),
  Type.Literal('retention'),
])

/** A message.deleted event's data. */
const DeletedMessageSchema = Type.Object({ message_id: Type.String(), reason: DeletionReasonSchema })

export const EventSchema = Type.Object({
  id: Type.String(),
  type: Type.Union([
    Type.Literal('message.created'),
    Type.Literal('status.updated'),
    Type.Literal('message.deleted'),
  ]),
  created_at: Type.String(),
  data: Type.Union([
    MessageDetailSchema,
    StatusDetailSchema,
    DeletedMessageSchema,
    // A message.created event whose message was deleted since: its content is gone.
    Type.Object({ message_id: Type.String() }, { additionalProperties: false }),
  ]),
})

export const EventPageSchema = Type.Object({
  data: Type.Array(EventSchema),
  next: Type.String(),
})

const DeliveryStatusSchema = Type.Union([
  Type.Literal('pending'),
  Type.Literal('delivered'),
  Type.Literal('failed'),
])

export const DeliveriesQuerySchema = Type.Object({
  status: Type.Optional(DeliveryStatusSchema),
  limit: QueryInteger(1, 100, 50),
  cursor: Type.Optional(Type.String({ maxLength: 64 })),
})
export type DeliveriesQuery = Static<typeof DeliveriesQuerySchema>

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()])

export const DeliveryPageSchema = Type.Object({
  data: Type.Array(
    Type.Object({
      id: Type.Integer(),
      event_id: Type.String(),
      destination: Type.String(),
      status: DeliveryStatusSchema,
      attempts: Type.Integer(),
      last_status_code: Type.Union([Type.Integer(), Type.Null()]),
      last_error: Nullable(Type.String()),
      next_attempt_at: Nullable(Type.String()),
      delivered_at: Nullable(Type.String()),
    }),
  ),
  next: Nullable(Type.String()),
})

export const DeliveryParamsSchema = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,15}$' }) })
export type DeliveryParams = Static<typeof DeliveryParamsSchema>

export const AcceptedSchema = Type.Object({ status: Type.String(), id: Type.Integer() })

/** Every error but a 422: `{"detail":"…"}` (SPEC 1.8). */
export const ErrorSchema = Type.Object({ detail: Type.String() })

/** A 422 in FastAPI's shape: every problem, where it is and what is wrong. */
const ValidationErrorSchema = Type.Object({
  detail: Type.Array(
    Type.Object({
      loc: Type.Array(Type.Union([Type.String(), Type.Integer()])),
      msg: Type.String(),
      type: Type.String(),
    }),
  ),
})

/** A documented error answer of a route: the shape and when it is given. */
export const errorAnswer = (description: string) => ({ ...ErrorSchema, description })
export const validationAnswer = (description: string) => ({ ...ValidationErrorSchema, description })

/** What every read of the store may answer besides its own errors. */
export const READ_ERRORS = {
  503: errorAnswer(
    'The database cannot be reached, the read ran past READ_TIMEOUT_MS, or too many reads are waiting',
  ),
}

/** A route with query or path parameters. */
export const QUERY_ERRORS = { 422: validationAnswer('A parameter is out of range or malformed') }

/** The body of a response that is not JSON: text of the given media type. */
export const textAnswer = (mediaType: string, description: string) => ({
  description,
  content: { [mediaType]: { schema: { type: 'string' } } },
})

// The answers' types, for clients written in TypeScript (the console imports these).
export type MessageDetailAnswer = Static<typeof MessageDetailSchema>
export type StatusDetailAnswer = Static<typeof StatusDetailSchema>
export type StatsAnswer = Static<typeof StatsSchema>
export type TimelineAnswer = Static<typeof TimelineSchema>
export type DeliveryPageAnswer = Static<typeof DeliveryPageSchema>
