import { createHmac, timingSafeEqual } from 'node:crypto'

/** HMAC-SHA256 of the exact bytes, as 32 raw bytes. */
export function hmacSha256(secret: string, body: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(body).digest()
}

/**
 * True when the 64 hex digits `hex` (already checked for shape by the caller: Node's
 * `Buffer.from(s, 'hex')` stops silently at the first non-hex character) equal the HMAC of
 * `body` under one of `secrets` (the current one and, during a rotation, the previous
 * one). Every secret is compared, each in constant time, so the time taken does not tell
 * which one matched.
 */
export function matchesAnySecret(secrets: readonly string[], body: Uint8Array, hex: string): boolean {
  const given = Buffer.from(hex, 'hex')
  let matched = false
  for (const secret of secrets) {
    if (timingSafeEqual(given, hmacSha256(secret, body))) matched = true
  }
  return matched
}
