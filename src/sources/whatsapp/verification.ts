import { createHash, timingSafeEqual } from 'node:crypto'

const digest = (value: string) => createHash('sha256').update(value).digest()

/**
 * Meta's verification request (GET with `hub.mode=subscribe`, `hub.verify_token`,
 * `hub.challenge`), sent when the callback URL is registered: the challenge to echo when the
 * token is ours, else null. It carries no signature, by Meta's design. The tokens are hashed
 * before the constant-time comparison, so neither their length nor their content shows in
 * the response time.
 */
export function verificationChallenge(query: Record<string, unknown>, verifyToken: string): string | null {
  const mode = query['hub.mode']
  const token = query['hub.verify_token']
  const challenge = query['hub.challenge']
  if (mode !== 'subscribe' || typeof token !== 'string' || typeof challenge !== 'string') return null
  return timingSafeEqual(digest(token), digest(verifyToken)) ? challenge : null
}
