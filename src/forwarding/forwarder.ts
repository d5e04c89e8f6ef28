import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { ForwardConfig } from '../config.js'
import type { ForwardMetrics } from '../observability/metrics.js'
import type { MessageStore } from '../storage/message-store.js'
import type { AttemptResult, DeliveryWrites, LeasedDelivery } from './delivery-store.js'
import { Poster } from './post.js'
import { retryDelayS } from './retry.js'
import { StandardWebhooksSigner } from './signature.js'

/** Events turned into deliveries per destination and statement. */
const DISPATCH_CHUNK = 500
/** Due deliveries are looked for at least this often (retries come due with time, not commits). */
const TICK_MS = 1000
/** A lease outlives the attempt's timeout by this much, then another replica may take it. */
const LEASE_MARGIN_MS = 5000
/**
 * Least time between two cycles, so that under load each dispatches and leases many: at
 * 5 ms the cycles' own transactions took most of the spare CPU the forwarder gets (measured
 * at 1,000 webhooks/s on one core: 1.9 ms of CPU per delivery during the load, 0.34 after).
 * An idle forwarder runs its cycle at once.
 */
const CYCLE_GAP_MS = 25
/** Results wait this long for others to be recorded with them. */
const RECORD_DELAY_MS = 5

/** The destination without credentials or query, for logs and errors. */
function shown(url: string): string {
  const u = new URL(url)
  return `${u.protocol}//${u.host}${u.pathname}`
}

/** What the forwarder needs of a store: the deliveries' writes, and commit notifications. */
export type ForwarderStore = DeliveryWrites & Pick<MessageStore, 'onEvents'>

export interface ForwarderDeps {
  store: ForwarderStore
  config: ForwardConfig
  logger: Logger
  metrics: Pick<ForwardMetrics, 'countDelivery'>
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
  private readonly signer: StandardWebhooksSigner
  private readonly poster: Poster
  private readonly clock: () => Date
  private readonly inFlight = new Set<Promise<void>>()
  /** Leased, waiting for a free slot: leasing in groups saves a database round trip per delivery. */
  private ready: LeasedDelivery[] = []
  private results: AttemptResult[] = []
  private recording: Promise<void> | undefined
  private recordTimer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private again = false
  /** Commits happened since the last dispatch (or the tick asks for one). */
  private dirty = true
  private lastCycle = 0
  private stopped = true
  private timer: NodeJS.Timeout | undefined
  private unsubscribe: (() => void) | undefined

  constructor(private readonly deps: ForwarderDeps) {
    this.signer = new StandardWebhooksSigner(deps.config.secret)
    this.poster = new Poster(deps.config.concurrency)
    this.clock = deps.clock ?? (() => new Date())
  }

  async start(): Promise<void> {
    this.stopped = false
    await this.deps.store.registerDestinations([...this.deps.config.urls])
    this.unsubscribe = this.deps.store.onEvents(() => this.notify())
    this.timer = setInterval(() => {
      this.dirty = true // a commit notification lost (a replica's LISTEN reconnecting) is caught up here
      this.wake()
    }, TICK_MS)
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
    // Leased and never started: given back, so that the next start (or another replica)
    // attempts them at once instead of after their leases run out.
    const unstarted = this.ready
    this.ready = []
    await this.flushResults()
    await this.deps.store.releaseLeases(unstarted).catch((error: unknown) => {
      this.deps.logger.warn(
        { err: error },
        'leases of unstarted deliveries not given back; they run out instead',
      )
    })
    this.poster.close()
  }

  /** New events may exist (a commit, an operator's retry): dispatch them and look for work. */
  notify(): void {
    this.dirty = true
    this.wake()
  }

  /** Runs one cycle soon, or once more after the one running. */
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
    // Under load, cycles come at most every CYCLE_GAP_MS, so each moves many deliveries.
    const gap = this.lastCycle + CYCLE_GAP_MS - performance.now()
    if (gap > 0) await sleep(gap)
    this.lastCycle = performance.now()
    // A destination that answered 410 is skipped by dispatch (the store keeps that), and has
    // nothing pending to lease.
    const active = [...config.urls]
    if (this.dirty) {
      this.dirty = false
      for (const url of active) {
        while ((await store.dispatch(url, DISPATCH_CHUNK, this.clock())) === DISPATCH_CHUNK && !this.stopped);
      }
    }
    // Keep up to one slot-full waiting beside the attempts in flight. A waiting delivery
    // starts within one attempt's timeout, so its lease covers two timeouts.
    const wanted = 2 * config.concurrency - this.inFlight.size - this.ready.length
    if (wanted > 0 && this.ready.length < config.concurrency && !this.stopped) {
      const leased = await store.leaseDue(
        active,
        this.clock(),
        2 * config.timeoutMs + LEASE_MARGIN_MS,
        wanted,
      )
      this.ready.push(...leased)
    }
    this.startReady()
  }

  /** Starts waiting deliveries while slots are free. */
  private startReady(): void {
    while (!this.stopped && this.inFlight.size < this.deps.config.concurrency && this.ready.length > 0) {
      const delivery = this.ready.shift() as LeasedDelivery
      const attempt = this.attempt(delivery).finally(() => {
        this.inFlight.delete(attempt)
        this.startReady()
        // Running low: lease more (deliveries may have come due meanwhile).
        if (this.ready.length < this.deps.config.concurrency / 2) this.wake()
      })
      this.inFlight.add(attempt)
    }
  }

  private async attempt(delivery: LeasedDelivery): Promise<void> {
    const { config, logger, metrics } = this.deps
    const { event } = delivery
    const eventId = String(event.seq)
    const body = JSON.stringify({ type: event.type, timestamp: event.created_at, data: event.data })
    const timestampS = Math.floor(this.clock().getTime() / 1000)
    const started = performance.now()
    let statusCode: number | null = null
    let retryAfter: string | null = null
    let error: string | null = null
    try {
      const answer = await this.poster.post(
        delivery.destination,
        body,
        {
          'content-type': 'application/json',
          'user-agent': 'inlet-forwarder',
          'webhook-id': eventId,
          'webhook-timestamp': String(timestampS),
          'webhook-signature': this.signer.sign(eventId, timestampS, body),
        },
        config.timeoutMs,
      )
      statusCode = answer.status
      retryAfter = answer.retryAfter
      if (statusCode < 200 || statusCode > 299) {
        // A redirect is an answer, never followed (SPEC 2.4).
        error =
          statusCode >= 300 && statusCode < 400
            ? `HTTP ${statusCode} (redirects are not followed)`
            : `HTTP ${statusCode}`
      }
    } catch (cause) {
      error = String((cause as Error).message)
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
    this.scheduleRecord()
  }

  /**
   * Results are recorded in groups, a few milliseconds after the first of a group: the slot
   * is free as soon as the receiver answered, and the delivery stays leased until then.
   */
  private scheduleRecord(): void {
    if (this.recordTimer !== undefined) return
    this.recordTimer = setTimeout(() => {
      this.recordTimer = undefined
      void this.flushResults()
    }, RECORD_DELAY_MS)
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
    // Leased and waiting: the store fails them below; they are not attempted.
    this.ready = this.ready.filter((delivery) => delivery.destination !== url)
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
    clearTimeout(this.recordTimer)
    this.recordTimer = undefined
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
