import { createHmac, timingSafeEqual } from 'node:crypto'

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/

export function signBody(secret: string, body: Uint8Array): string {
  return createHmac('sha256', secret).update(body).digest('hex')
}

/**
 * True when `header` is exactly 64 hex digits (either case) equal to
 * HMAC-SHA256(secret, body). The shape is checked first so that a malformed header can
 * neither throw (timingSafeEqual does on a length mismatch) nor be half-decoded
 * (Buffer.from(s, 'hex') stops silently at the first non-hex character); the
 * comparison itself is constant-time.
 */
export function verifySignature(secret: string, body: Uint8Array, header: string | undefined): boolean {
  if (header === undefined || !HEX_SHA256.test(header)) return false
  const expected = createHmac('sha256', secret).update(body).digest()
  return timingSafeEqual(Buffer.from(header, 'hex'), expected)
}
