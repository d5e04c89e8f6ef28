import { hmacSha256, matchesAnySecret } from '../hmac.js'

/** Meta's form: the literal prefix, then the hex digest (Meta sends lower case). */
const HUB_SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/

/** The `X-Hub-Signature-256` Meta sends: `sha256=` and the hex HMAC-SHA256 of the body under the app secret. */
export function signWhatsAppBody(appSecret: string, body: Uint8Array): string {
  return `sha256=${hmacSha256(appSecret, body).toString('hex')}`
}

/**
 * True when `header` is `sha256=` and 64 hex digits equal to the HMAC-SHA256 of the bytes
 * received under one of `secrets`. The bytes, never a re-serialization: Meta escapes
 * non-ASCII as \uXXXX (and may escape `/`) in what it signs, which a JSON round trip would
 * not reproduce.
 */
export function verifyWhatsAppSignature(
  secrets: readonly string[],
  body: Uint8Array,
  header: string | undefined,
): boolean {
  const hex = header === undefined ? undefined : HUB_SIGNATURE.exec(header)?.[1]
  return hex !== undefined && matchesAnySecret(secrets, body, hex)
}
