import { AppError } from '../../errors.js'
import { header, type Source } from '../source.js'
import { checkEnvelope, type MappedEnvelope, mapEnvelope } from './envelope.js'
import { verifyWhatsAppSignature } from './signature.js'

/** Meta's WhatsApp Cloud API (POST /webhooks/whatsapp): X-Hub-Signature-256 over the raw body. */
export const whatsappSource: Source<MappedEnvelope> = {
  notConfigured: new AppError('not_configured', 'whatsapp not configured'),
  // Node lower-cases header names, so X-Hub-Signature-256 is found whatever case Meta uses.
  verify: (secrets, raw, headers) =>
    verifyWhatsAppSignature(secrets, raw, header(headers, 'x-hub-signature-256')),
  map: (body) => mapEnvelope(checkEnvelope(body)),
}
