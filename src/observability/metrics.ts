import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { ErrorCode } from '../errors.js'
import type { DeliveryBacklog } from '../forwarding/delivery-store.js'
import type { DeletionReason, InsertOutcome } from '../storage/message-store.js'

/** The outcome of a request: what the store did, what a provider's route did, or the error it was answered with. */
export type Outcome = InsertOutcome | 'ok' | 'verified' | ErrorCode

/** Every outcome a POST /webhook can have; each starts at zero so dashboards see it. */
const WEBHOOK_RESULTS: readonly Outcome[] = [
  'created',
  'duplicate',
  'invalid_signature',
  'validation_error',
  'payload_too_large',
  'secret_not_configured',
  'storage_unavailable',
  'method_not_allowed',
  'bad_request',
  'not_found',
  'internal_error',
]

/** The outcomes of GET and POST /webhooks/whatsapp (SPEC 2.2), each from zero. */
const WHATSAPP_RESULTS: readonly Outcome[] = [
  'ok',
  'verified',
  'verification_failed',
  'invalid_signature',
  'validation_error',
  'payload_too_large',
  'not_configured',
  'storage_unavailable',
]

/** What happened to each item of a WhatsApp request, by kind (`change`: a change of another field). */
export type WhatsAppItemKind = 'message' | 'status' | 'change'
export type WhatsAppItemResult = 'created' | 'duplicate' | 'invalid' | 'ignored'
const WHATSAPP_ITEMS: readonly [WhatsAppItemKind, WhatsAppItemResult][] = [
  ...(['message', 'status'] as const).flatMap((kind) =>
    (['created', 'duplicate', 'invalid', 'ignored'] as const).map(
      (result) => [kind, result] as [WhatsAppItemKind, WhatsAppItemResult],
    ),
  ),
  ['change', 'ignored'],
]

/** Fine below a millisecond (the ingest path is sub-millisecond) and up to 10 s. */
const LATENCY_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]

export type Metrics = ReturnType<typeof createMetrics>
export type ForwardMetrics = Metrics['forward']
export type DeliveryOutcome = 'delivered' | 'retry' | 'failed'

/** The backlog gauges read the store at most this often, however many scrapers ask. */
const BACKLOG_CACHE_MS = 500

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
  const whatsappRequests = new Counter({
    name: 'whatsapp_requests_total',
    help: 'GET and POST /webhooks/whatsapp requests by outcome.',
    labelNames: ['result'] as const,
    registers: [registry],
  })
  for (const result of WHATSAPP_RESULTS) whatsappRequests.labels(result).inc(0)
  const whatsappItems = new Counter({
    name: 'whatsapp_items_total',
    help: 'Items of WhatsApp requests by kind (message, status; change: of another field) and what became of them.',
    labelNames: ['kind', 'result'] as const,
    registers: [registry],
  })
  for (const [kind, result] of WHATSAPP_ITEMS) whatsappItems.labels(kind, result).inc(0)
  const requestLatency = new Histogram({
    name: 'request_latency_ms',
    help: 'Time from request start to response end, in milliseconds.',
    buckets: LATENCY_BUCKETS_MS,
    registers: [registry],
  })
  const forwardDeliveries = new Counter({
    name: 'forward_deliveries_total',
    help: 'Forwarding attempts by what came of them: delivered, retry (scheduled again), failed (for good).',
    labelNames: ['result'] as const,
    registers: [registry],
  })
  for (const result of ['delivered', 'retry', 'failed'] as const) forwardDeliveries.labels(result).inc(0)
  let readBacklog: (() => Promise<DeliveryBacklog>) | undefined
  let backlog: { at: number; value: Promise<DeliveryBacklog | null> } | undefined
  const currentBacklog = (): Promise<DeliveryBacklog | null> => {
    if (readBacklog === undefined) return Promise.resolve(null)
    if (backlog === undefined || Date.now() - backlog.at > BACKLOG_CACHE_MS) {
      // A store that cannot answer leaves the gauges as they were, and /metrics still answers.
      backlog = { at: Date.now(), value: readBacklog().catch(() => null) }
    }
    return backlog.value
  }
  new Gauge({
    name: 'forward_pending_deliveries',
    help: 'Deliveries waiting for an attempt (or being attempted) to the configured destinations.',
    registers: [registry],
    async collect() {
      const value = await currentBacklog()
      if (value !== null) this.set(value.pending)
    },
  })
  new Gauge({
    name: 'forward_oldest_pending_age_seconds',
    help: 'Age of the oldest pending delivery (0 when none is pending).',
    registers: [registry],
    async collect() {
      const value = await currentBacklog()
      if (value === null) return
      const oldest = value.oldestPendingAt === null ? null : Date.parse(value.oldestPendingAt)
      this.set(oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000))
    },
  })
  const streamClients = new Gauge({
    name: 'events_stream_clients',
    help: 'Clients connected to GET /events/stream.',
    registers: [registry],
  })
  const exportsActive = new Gauge({
    name: 'exports_in_progress',
    help: 'GET /export responses being streamed.',
    registers: [registry],
  })
  const exportedRows = new Counter({
    name: 'export_rows_total',
    help: 'Messages written by GET /export, by format.',
    labelNames: ['format'],
    registers: [registry],
  })
  const deletedMessages = new Counter({
    name: 'messages_deleted_total',
    help: 'Messages deleted, by reason: single (DELETE /messages/{id}), erasure (DELETE /messages?from=), retention (RETENTION_DAYS).',
    labelNames: ['reason'],
    registers: [registry],
  })
  for (const reason of ['single', 'erasure', 'retention']) deletedMessages.labels(reason)
  // Labelled children are looked up once per label set, not hashed on every request.
  const requestCounters = new Map<string, Counter.Internal>()
  const webhookCounters = new Map<Outcome, Counter.Internal>()
  return {
    registry,
    requestLatency,
    streamClients,
    exports: {
      active: exportsActive,
      countRows(format: string, count: number): void {
        exportedRows.labels(format).inc(count)
      },
    },
    countDeleted(reason: DeletionReason, count: number): void {
      if (count > 0) deletedMessages.labels(reason).inc(count)
    },
    forward: {
      countDelivery(result: DeliveryOutcome, count = 1): void {
        forwardDeliveries.labels(result).inc(count)
      },
      /** Where the backlog gauges come from (only while forwarding is on). */
      watchBacklog(read: () => Promise<DeliveryBacklog>): void {
        readBacklog = read
      },
    },
    countRequest(path: string, status: number): void {
      const key = `${status} ${path}`
      let counter = requestCounters.get(key)
      if (counter === undefined) {
        counter = httpRequests.labels({ path, status })
        requestCounters.set(key, counter)
      }
      counter.inc()
    },
    countWhatsApp(result: Outcome): void {
      whatsappRequests.labels(result).inc()
    },
    countWhatsAppItems(kind: WhatsAppItemKind, result: WhatsAppItemResult, count: number): void {
      if (count > 0) whatsappItems.labels(kind, result).inc(count)
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
