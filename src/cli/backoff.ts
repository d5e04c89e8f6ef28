const FIRST_MS = 200
const CAP_MS = 5000

/**
 * The wait before retry number `attempt` (0 for the first): doubling from 200 ms up to 5 s,
 * with jitter (half fixed, half random) so that many clients do not retry in step.
 */
export function backoffMs(attempt: number): number {
  const ceiling = Math.min(CAP_MS, FIRST_MS * 2 ** attempt)
  return ceiling / 2 + (Math.random() * ceiling) / 2
}

/** A `Retry-After` in seconds, as a wait no longer than the cap; null when absent or a date. */
export function retryAfterMs(header: string | null): number | null {
  return header !== null && /^[0-9]+$/.test(header.trim()) ? Math.min(CAP_MS, Number(header) * 1000) : null
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
