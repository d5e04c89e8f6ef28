import type { Logger } from 'pino'
import { Webhook } from 'standardwebhooks'
import type { ForwardConfig } from '../config.js'
import type { ForwardMetrics } from '../observability/metrics.js'
import type { MessageStore } from '../storage/message-store.js'
import type { AttemptResult, DeliveryStore, LeasedDelivery } from './delivery-store.js'
import { retryDelayS } from './retry.js'

/** Events turned into deliveries per destination and statement. */
const DISPATCH_CHUNK = 500
/** Due deliveries are looked for at least this often (retries come due with time, not commits). */
const TICK_MS = 1000
/** A lease outlives the attempt's timeout by this much, then another replica may take it. */
const LEASE_MARGIN_MS = 5000
/** Bytes of a receiver's answer read before it is dropped: only the status code matters. */
const RESPONSE_BYTES = 4096

/** The destination without credentials or query, for logs and errors. */
function shown(url: string): string {
  const u = new URL(url)
  return `${u.protocol}//${u.host}${u.pathname}`
}

export interface ForwarderDeps {
  store: DeliveryStore & Pick<MessageStore, 'onEvents'>
  config: ForwardConfig
  logger: Logger
  metrics: ForwardMetrics
  clock?: () => Date
}

/**
 * Forwards the feed to each FORWARD_URL (SPEC 2.4), off the ack path: commits only wake it.
 * Each event becomes one delivery per destination, stored beside the messages; each attempt
 * leases its delivery (one replica at a time, released by timeout if the replica dies),
 * POSTs the event signed by the Standard Webhooks scheme, and records what came of it.
 * Attempts run independently, at most `concurrency` at once, so one slow receiver or event
 * never holds up the others.
 */
export class Forwarder {
  private readonly webhook: Webhook
  private readonly clock: () => Date
  private readonly inFlight = new Set<Promise<void>>()
  private results: AttemptResult[] = []
  private recording: Promise<void> | undefined
  private running: Promise<void> | undefined
  private again = false
  private stopped = true
  private timer: NodeJS.Timeout | undefined
  private unsubscribe: (() => void) | undefined

  constructor(private readonly deps: ForwarderDeps) {
    this.webhook = new Webhook(deps.config.secret)
    this.clock = deps.clock ?? (() => new Date())
  }

  async start(): Promise<void> {
    this.stopped = false
    await this.deps.store.registerDestinations([...this.deps.config.urls], this.clock())
    this.unsubscribe = this.deps.store.onEvents(() => this.wake())
    this.timer = setInterval(() => this.wake(), TICK_MS)
    this.timer.unref()
    this.wake()
  }

  /** Stops starting attempts, lets those in flight finish and records them. */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    this.unsubscribe?.()
    await this.running
    await Promise.all(this.inFlight)
    await this.flushResults()
  }

  /** Runs one cycle now, or once more after the one running. */
  wake(): void {
    if (this.stopped) return
    if (this.running !== undefined) {
      this.again = true
      return
    }
    this.running = this.cycle()
      .catch((error: unknown) => {
        // The database is away: the next tick tries again; nothing is lost meanwhile.
        this.deps.logger.warn({ err: error }, 'forwarding cycle failed; retrying')
      })
      .finally(() => {
        this.running = undefined
        if (this.again) {
          this.again = false
          this.wake()
        }
      })
  }

  private async cycle(): Promise<void> {
    const { store, config } = this.deps
    // A destination that answered 410 is skipped by dispatch (the store keeps that), and has
    // nothing pending to lease.
    const active = [...config.urls]
    for (const url of active) {
      while ((await store.dispatch(url, DISPATCH_CHUNK, this.clock())) === DISPATCH_CHUNK && !this.stopped);
    }
    const free = config.concurrency - this.inFlight.size
    if (free <= 0 || this.stopped) return
    const leased = await store.leaseDue(active, this.clock(), config.timeoutMs + LEASE_MARGIN_MS, free)
    for (const delivery of leased) {
      const attempt = this.attempt(delivery).finally(() => {
        this.inFlight.delete(attempt)
        this.wake() // a free slot: more may be due
      })
      this.inFlight.add(attempt)
    }
  }

  private async attempt(delivery: LeasedDelivery): Promise<void> {
    const { config, logger, metrics } = this.deps
    const { event } = delivery
    const eventId = String(event.seq)
    const body = JSON.stringify({ type: event.type, timestamp: event.created_at, data: event.data })
    const sentAt = this.clock()
    const started = performance.now()
    let statusCode: number | null = null
    let retryAfter: string | null = null
    let error: string | null = null
    try {
      const response = await fetch(delivery.destination, {
        method: 'POST',
        body,
        redirect: 'manual', // a redirect is an answer, never followed (SPEC 2.4)
        signal: AbortSignal.timeout(config.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'inlet-forwarder',
          'webhook-id': eventId,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': this.webhook.sign(eventId, sentAt, body),
        },
      })
      statusCode = response.status
      retryAfter = response.headers.get('retry-after')
      await drain(response)
      if (statusCode < 200 || statusCode > 299) {
        error =
          statusCode >= 300 && statusCode < 400
            ? `HTTP ${statusCode} (redirects are not followed)`
            : `HTTP ${statusCode}`
      }
    } catch (cause) {
      const name = (cause as Error).name
      error =
        name === 'TimeoutError'
          ? `timed out after ${config.timeoutMs} ms`
          : String((cause as { cause?: Error }).cause?.message ?? (cause as Error).message)
    }
    const latencyMs = Math.round((performance.now() - started) * 1000) / 1000
    const at = this.clock()
    let result: AttemptResult
    if (error === null) {
      result = this.result(delivery, 'delivered', statusCode, null, null, at)
    } else if (statusCode === 410) {
      result = this.result(
        delivery,
        'failed',
        statusCode,
        'HTTP 410 Gone: forwarding to this destination stopped',
        null,
        at,
      )
      await this.stopDestination(delivery.destination, at)
    } else {
      const delayS = retryDelayS(config.retryScheduleS, delivery.attempts, statusCode, retryAfter, at)
      result =
        delayS === null
          ? this.result(delivery, 'failed', statusCode, error, null, at)
          : this.result(
              delivery,
              'pending',
              statusCode,
              error,
              new Date(at.getTime() + delayS * 1000).toISOString(),
              at,
            )
    }
    const outcome = result.status === 'pending' ? 'retry' : result.status
    metrics.countDelivery(outcome)
    logger[outcome === 'delivered' ? 'info' : 'warn'](
      {
        destination: shown(delivery.destination),
        event_id: eventId,
        delivery_id: delivery.id,
        attempt: delivery.attempts,
        status: statusCode,
        result: outcome,
        latency_ms: latencyMs,
        ...(error === null ? {} : { error }),
      },
      'forward attempt',
    )
    this.results.push(result)
    await this.flushResults()
  }

  private result(
    delivery: LeasedDelivery,
    status: AttemptResult['status'],
    statusCode: number | null,
    error: string | null,
    nextAttemptAt: string | null,
    at: Date,
  ): AttemptResult {
    return {
      id: delivery.id,
      leaseUntil: delivery.leaseUntil,
      status,
      statusCode,
      error,
      nextAttemptAt,
      at: at.toISOString(),
    }
  }

  private async stopDestination(url: string, at: Date): Promise<void> {
    const failed = await this.deps.store.stopDestination(
      url,
      'HTTP 410 Gone: forwarding to this destination stopped',
      at,
    )
    this.deps.logger.error(
      { destination: shown(url), failed_pending: failed },
      'destination answered 410 Gone: forwarding to it is stopped until a delivery to it is retried',
    )
  }

  /** Records finished attempts together: those finishing while a write runs go in the next. */
  private async flushResults(): Promise<void> {
    while (this.recording !== undefined) await this.recording
    if (this.results.length === 0) return
    const results = this.results
    this.results = []
    this.recording = this.deps.store.recordAttempts(results).catch((error: unknown) => {
      // Not recorded: the leases run out and the attempts are made again (at least once).
      this.deps.logger.warn({ err: error, attempts: results.length }, 'cannot record forwarding attempts')
    })
    try {
      await this.recording
    } finally {
      this.recording = undefined
    }
  }
}

/** Reads a little of the answer and drops the rest, so the connection can be reused or closed. */
async function drain(response: Response): Promise<void> {
  const reader = response.body?.getReader()
  if (reader === undefined) return
  try {
    let read = 0
    while (read < RESPONSE_BYTES) {
      const chunk = await reader.read()
      if (chunk.done) return
      read += chunk.value.byteLength
    }
    await reader.cancel()
  } catch {
    // The status code is what counts; a broken body after it changes nothing.
  }
}
