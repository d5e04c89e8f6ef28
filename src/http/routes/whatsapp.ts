import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../../config.js'
import { AppError } from '../../errors.js'
import type { Metrics } from '../../observability/metrics.js'
import { receive, secretsOf } from '../../sources/source.js'
import { verificationChallenge } from '../../sources/whatsapp/verification.js'
import { whatsappSource } from '../../sources/whatsapp/whatsapp-source.js'
import type { IngestResult, MessageStore } from '../../storage/message-store.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import { errorAnswer, StatusSchema, textAnswer, validationAnswer } from '../schemas.js'
import { keepRawBody, rawBody } from './raw-body.js'

const URL = '/webhooks/whatsapp'

const tags = ['ingest']

/** Meta's subscription check: its three parameters, read by verificationChallenge. */
const verification = {
  summary: "Meta's verification request: echoes hub.challenge when hub.verify_token matches",
  tags,
  querystring: Type.Object({
    'hub.mode': Type.Optional(Type.String({ description: '`subscribe`' })),
    'hub.verify_token': Type.Optional(Type.String({ description: 'WHATSAPP_VERIFY_TOKEN' })),
    'hub.challenge': Type.Optional(Type.String({ description: 'Echoed back as the body' })),
  }),
  response: {
    200: textAnswer('text/plain', 'The hub.challenge, as sent'),
    403: errorAnswer('`{"detail":"verification failed"}`: the mode or the token is wrong'),
    503: errorAnswer('WHATSAPP_VERIFY_TOKEN is not set'),
  },
}

/** The notification POST: a signed envelope of messages and statuses. */
const notification = {
  summary: 'Receive a signed WhatsApp Cloud API notification (messages and statuses)',
  description:
    'Every `messages` change of the envelope is committed in one transaction before the 200. Items that cannot be mapped are skipped and counted, never answered with a 4xx (Meta would retry the whole batch).',
  tags,
  headers: Type.Object({
    'x-hub-signature-256': Type.String({
      pattern: '^sha256=[0-9a-fA-F]{64}$',
      description: '`sha256=` + hex(HMAC-SHA256(WHATSAPP_APP_SECRET, raw body))',
    }),
  }),
  body: Type.Object(
    {
      object: Type.String({ description: '`whatsapp_business_account`' }),
      entry: Type.Array(Type.Object({}, { additionalProperties: true })),
    },
    { additionalProperties: true },
  ),
  response: {
    200: { ...StatusSchema, description: 'Committed: `{"status":"ok"}`' },
    400: errorAnswer('The body is shorter or longer than its Content-Length'),
    401: errorAnswer('`{"detail":"invalid signature"}`'),
    413: errorAnswer('`{"detail":"payload too large"}`: over WHATSAPP_MAX_BODY_BYTES'),
    422: validationAnswer('Not a JSON object with an `entry` array'),
    503: errorAnswer('WHATSAPP_APP_SECRET is not set, or the database cannot commit'),
  },
}

const created = (outcomes: IngestResult['messages']) => outcomes.filter((o) => o === 'created').length

/**
 * Meta's WhatsApp Cloud API (SPEC 2.2): the verification GET, and the POST of an envelope
 * of messages and statuses. Checks of the POST in order: size (while reading, its own cap:
 * Meta sends up to 3 MB), the app secret configured, the signature over the raw bytes, a
 * JSON object with an `entry` array; then every `messages` change is stored in one
 * transaction, and the answer is 200 only after it committed (503 when it could not, so
 * Meta retries). Items that cannot be mapped are skipped and counted, never a 4xx: Meta
 * would retry the whole batch for days.
 */
export async function whatsappRoutes(
  app: FastifyInstance,
  deps: { config: Config; store: MessageStore; metrics: Metrics; logger: Logger },
) {
  const { config, store, metrics, logger } = deps
  const secrets = secretsOf(config.whatsappAppSecret, config.whatsappAppSecretPrevious)
  keepRawBody(app)

  app.get(URL, { schema: verification }, async (request, reply) => {
    const token = config.whatsappVerifyToken
    if (token === null) throw whatsappSource.notConfigured
    const challenge = verificationChallenge(request.query as Record<string, unknown>, token)
    if (challenge === null) throw new AppError('verification_failed', 'verification failed')
    request.outcome = 'verified'
    // The challenge is the caller's text echoed back: never let a browser sniff it as HTML.
    reply.type('text/plain; charset=utf-8').header('x-content-type-options', 'nosniff')
    return challenge
  })

  const options = {
    bodyLimit: config.whatsappMaxBodyBytes,
    schema: notification,
    // JSON whatever the Content-Type says, as on /webhook.
    onRequest: (request: FastifyRequest, _reply: unknown, done: () => void) => {
      delete request.headers['content-type']
      done()
    },
  }
  app.post(URL, options, async (request) => {
    const { mapped, result } = await receive(
      whatsappSource,
      secrets,
      rawBody(request),
      request.headers,
      store,
    )
    const { batch, invalid, ignored, otherChanges } = mapped
    request.outcome = 'ok'
    request.itemCounts = { messages: batch.messages.length, statuses: batch.statuses.length }
    const createdMessages = created(result.messages)
    const createdStatuses = created(result.statuses)
    metrics.countWhatsAppItems('message', 'created', createdMessages)
    metrics.countWhatsAppItems('message', 'duplicate', result.messages.length - createdMessages)
    metrics.countWhatsAppItems('status', 'created', createdStatuses)
    metrics.countWhatsAppItems('status', 'duplicate', result.statuses.length - createdStatuses)
    for (const kind of ['message', 'status'] as const) {
      metrics.countWhatsAppItems(kind, 'invalid', invalid.filter((i) => i.kind === kind).length)
      metrics.countWhatsAppItems(kind, 'ignored', ignored.filter((i) => i.kind === kind).length)
    }
    metrics.countWhatsAppItems('change', 'ignored', otherChanges)
    // Where each skipped item sat and why, never its content.
    if (invalid.length > 0)
      logger.warn({ request_id: request.id, skipped: invalid }, 'whatsapp items skipped: invalid')
    if (ignored.length > 0) logger.info({ request_id: request.id, ignored }, 'whatsapp items ignored')
    if (otherChanges > 0) {
      logger.info(
        { request_id: request.id, changes: otherChanges },
        'whatsapp changes of other fields acknowledged, not stored',
      )
    }
    return { status: 'ok' }
  })
  refuseOtherMethods(app, URL, ['GET', 'POST'])
}
