import { type Static, Type } from '@sinclair/typebox'

// One schema per public shape: it validates requests, serializes responses and types the code.
// `storable` (see validation.ts) refuses unpaired UTF-16 surrogates and U+0000, which JSON
// can express but a database cannot store as sent (PostgreSQL text holds no NUL).

const MSISDN = '^\\+[0-9]{1,15}$'

export const WebhookBodySchema = Type.Object({
  message_id: Type.String({ minLength: 1, storable: true }),
  from: Type.String({ pattern: MSISDN }),
  to: Type.String({ pattern: MSISDN }),
  ts: Type.String({ format: 'timestamp' }),
  // maxLength counts code points (Ajv's default), not UTF-16 units.
  text: Type.Optional(Type.Union([Type.String({ maxLength: 4096, storable: true }), Type.Null()])),
})
export type WebhookBody = Static<typeof WebhookBodySchema>

/** A query-string integer: sent as text, validated and converted by `queryInteger` (validation.ts). */
const QueryInteger = (minimum: number, maximum: number, fallback: number) =>
  Type.Unsafe<number>({ type: 'string', queryInteger: { minimum, maximum }, default: String(fallback) })

export const MessagesQuerySchema = Type.Object({
  limit: QueryInteger(1, 100, 50),
  offset: QueryInteger(0, Number.MAX_SAFE_INTEGER, 0),
  from: Type.Optional(Type.String()),
  since: Type.Optional(Type.String({ format: 'timestamp' })),
  // A text holds at most 4096 characters, so a longer q could never match.
  q: Type.Optional(Type.String({ maxLength: 4096 })),
  /** Opaque, from a previous page's `Link: <…>; rel="next"`. */
  cursor: Type.Optional(Type.String({ maxLength: 2048 })),
})
export type MessagesQuery = Static<typeof MessagesQuerySchema>

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

export const StatsSchema = Type.Object({
  total_messages: Type.Integer(),
  senders_count: Type.Integer(),
  messages_per_sender: Type.Array(Type.Object({ from: Type.String(), count: Type.Integer() })),
  first_message_ts: Type.Union([Type.String(), Type.Null()]),
  last_message_ts: Type.Union([Type.String(), Type.Null()]),
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
