import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client'
import { ERROR_STATUS, type ErrorCode } from '../errors.js'
import type { InsertOutcome } from '../storage/message-store.js'

/** The outcome of a request: what the store did, or the error it was answered with. */
export type Outcome = InsertOutcome | ErrorCode

/** Every outcome a POST /webhook can have; each starts at zero so dashboards see it. */
const WEBHOOK_RESULTS: readonly Outcome[] = [
  'created',
  'duplicate',
  // Every error but those of the read endpoints (bearer check, read deadline and queue),
  // which /webhook never meets.
  ...(Object.keys(ERROR_STATUS) as ErrorCode[]).filter(
    (code) => !['unauthorized', 'query_timed_out', 'reads_overloaded'].includes(code),
  ),
]

/** Fine below a millisecond (the ingest path is sub-millisecond) and up to 10 s. */
const LATENCY_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]

export type Metrics = ReturnType<typeof createMetrics>

/** A registry per app, so two apps in one process (tests) never share or clash. */
export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route template (unmatched for unknown routes) and status code.',
    labelNames: ['path', 'status'] as const,
    registers: [registry],
  })
  const webhookRequests = new Counter({
    name: 'webhook_requests_total',
    help: 'POST /webhook requests by outcome.',
    labelNames: ['result'] as const,
    registers: [registry],
  })
  for (const result of WEBHOOK_RESULTS) webhookRequests.labels(result).inc(0)
  const requestLatency = new Histogram({
    name: 'request_latency_ms',
    help: 'Time from request start to response end, in milliseconds.',
    buckets: LATENCY_BUCKETS_MS,
    registers: [registry],
  })
  // Labelled children are looked up once per label set, not hashed on every request.
  const requestCounters = new Map<string, Counter.Internal>()
  const webhookCounters = new Map<Outcome, Counter.Internal>()
  return {
    registry,
    requestLatency,
    countRequest(path: string, status: number): void {
      const key = `${status} ${path}`
      let counter = requestCounters.get(key)
      if (counter === undefined) {
        counter = httpRequests.labels({ path, status })
        requestCounters.set(key, counter)
      }
      counter.inc()
    },
    countWebhook(result: Outcome): void {
      let counter = webhookCounters.get(result)
      if (counter === undefined) {
        counter = webhookRequests.labels({ result })
        webhookCounters.set(result, counter)
      }
      counter.inc()
    },
  }
}
