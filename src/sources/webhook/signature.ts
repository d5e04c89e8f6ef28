import { hmacSha256, matchesAnySecret } from '../hmac.js'

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/

/** The `X-Signature` of POST /webhook: lower-case hex HMAC-SHA256 of the body. */
export function signWebhookBody(secret: string, body: Uint8Array): string {
  return hmacSha256(secret, body).toString('hex')
}

/**
 * True when `header` is exactly 64 hex digits (either case) equal to HMAC-SHA256 of `body`
 * under one of `secrets`. The shape is checked first, so that a malformed header can neither
 * throw (timingSafeEqual does on a length mismatch) nor be half-decoded; the comparison
 * itself is constant-time.
 */
export function verifyWebhookSignature(
  secrets: readonly string[],
  body: Uint8Array,
  header: string | undefined,
): boolean {
  return header !== undefined && HEX_SHA256.test(header) && matchesAnySecret(secrets, body, header)
}
