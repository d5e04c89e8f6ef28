import { AppError } from '../../errors.js'
import type { IngestBatch } from '../../storage/message-store.js'
import { header, type Source } from '../source.js'
import { toMessage } from './body.js'
import { verifyWebhookSignature } from './signature.js'

/** The contract's own format (POST /webhook): one message, HMAC in X-Signature. */
export const webhookSource: Source<{ batch: IngestBatch }> = {
  notConfigured: new AppError('secret_not_configured', 'webhook secret not configured'),
  verify: (secrets, raw, headers) => verifyWebhookSignature(secrets, raw, header(headers, 'x-signature')),
  map: (body) => ({ batch: { messages: [toMessage(body)], statuses: [] } }),
}
