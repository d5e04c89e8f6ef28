import { type Static, Type } from '@sinclair/typebox'
import { AppError } from '../../errors.js'
import type { NewMessage } from '../../storage/message-store.js'
import { compileSchema, toValidationIssues } from '../../validation.js'

// `storable` (see validation.ts) refuses unpaired UTF-16 surrogates and U+0000, which JSON
// can express but a database cannot store as sent (PostgreSQL text holds no NUL).
const MSISDN = '^\\+[0-9]{1,15}$'

/** The body of POST /webhook (the contract's section 1.2): one message. */
export const WebhookBodySchema = Type.Object({
  message_id: Type.String({ minLength: 1, storable: true }),
  from: Type.String({ pattern: MSISDN }),
  to: Type.String({ pattern: MSISDN }),
  ts: Type.String({ format: 'timestamp' }),
  // maxLength counts code points (Ajv's default), not UTF-16 units.
  text: Type.Optional(Type.Union([Type.String({ maxLength: 4096, storable: true }), Type.Null()])),
})
export type WebhookBody = Static<typeof WebhookBodySchema>

const validateBody = compileSchema<WebhookBody>(WebhookBodySchema)
const FIELDS = Object.keys(WebhookBodySchema.properties)

/** The message_id a body carries, valid or not (the access line shows it either way). */
export function messageIdOf(body: unknown): string | number | undefined {
  const id = (body as { message_id?: unknown } | null)?.message_id
  return typeof id === 'string' || typeof id === 'number' ? id : undefined
}

/** A parsed body → the message to store, or a 422 listing every problem in FastAPI's shape. */
export function toMessage(body: unknown): NewMessage {
  if (!validateBody(body)) {
    throw new AppError('validation_error', toValidationIssues(validateBody.errors ?? [], 'body', FIELDS))
  }
  return { message_id: body.message_id, from: body.from, to: body.to, ts: body.ts, text: body.text ?? null }
}
