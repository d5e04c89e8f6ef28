/** Longest wait a receiver's Retry-After may ask for; beyond, it is taken as this. */
const RETRY_AFTER_MAX_S = 24 * 3600

/**
 * Seconds until the next attempt after attempt number `attempts` failed, or null when the
 * schedule is spent (the delivery is then failed). A 429 or 503 with `Retry-After` (seconds
 * or an HTTP date) waits what the receiver asked instead of the schedule's delay.
 */
export function retryDelayS(
  schedule: readonly number[],
  attempts: number,
  statusCode: number | null,
  retryAfter: string | null,
  now: Date,
): number | null {
  const scheduled = schedule[attempts - 1]
  if (scheduled === undefined) return null
  if ((statusCode === 429 || statusCode === 503) && retryAfter !== null) {
    const asked = parseRetryAfter(retryAfter, now)
    if (asked !== null) return Math.min(asked, RETRY_AFTER_MAX_S)
  }
  return scheduled
}

/** RFC 9110 Retry-After: delay-seconds or an HTTP-date; null when it is neither. */
export function parseRetryAfter(value: string, now: Date): number | null {
  const text = value.trim()
  if (/^[0-9]+$/.test(text)) return Number(text)
  const at = Date.parse(text)
  if (Number.isNaN(at) || !/[a-z]/i.test(text)) return null
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000))
}
