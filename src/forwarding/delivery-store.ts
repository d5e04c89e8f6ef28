import type { FeedEvent } from '../storage/message-store.js'

// The storage ports of forwarding (SPEC 2.4): one delivery per event and destination, with
// its own state, kept by each adapter beside the messages (on SQLite in a file of its own,
// on PostgreSQL in the same database), so deliveries survive restarts and crashes and
// several replicas share them.

export type DeliveryStatus = 'pending' | 'delivered' | 'failed'

/** A delivery as GET /deliveries lists it. */
export interface Delivery {
  id: number
  event_id: string
  destination: string
  status: DeliveryStatus
  attempts: number
  last_status_code: number | null
  last_error: string | null
  next_attempt_at: string | null
  delivered_at: string | null
}

/** A delivery leased for one attempt, with what to send. */
export interface LeasedDelivery {
  id: number
  destination: string
  /** Attempts made so far, this one included. */
  attempts: number
  /** The lease, also the proof of holding it when the attempt is recorded. */
  leaseUntil: string
  event: FeedEvent
}

/** What an attempt came to: delivered, pending again at `nextAttemptAt`, or failed. */
export interface AttemptResult {
  id: number
  leaseUntil: string
  status: DeliveryStatus
  statusCode: number | null
  error: string | null
  nextAttemptAt: string | null
  at: string
}

export interface DeliveryQuery {
  status?: DeliveryStatus
  limit: number
  /** Resume after this delivery id (the list runs newest first). */
  before?: number
}

export interface DeliveryBacklog {
  pending: number
  /** created_at of the oldest pending delivery, ISO-8601, or null. */
  oldestPendingAt: string | null
}

export type RetryOutcome = 'scheduled' | 'not_found' | 'not_failed'

/** Forwarding's writes: made only by the forwarder (its thread). */
export interface DeliveryWrites {
  /** Adds destinations not seen before; each starts after the newest event at that moment. */
  registerDestinations(urls: string[]): Promise<void>
  /** Creates the deliveries of up to `limit` new events to `url`; returns how many. */
  dispatch(url: string, limit: number, now: Date): Promise<number>
  /** Leases up to `limit` due deliveries to the given destinations for one attempt each. */
  leaseDue(urls: string[], now: Date, leaseMs: number, limit: number): Promise<LeasedDelivery[]>
  /** Records attempts; one whose lease was taken over meanwhile is left to its new holder. */
  recordAttempts(results: AttemptResult[]): Promise<void>
  /**
   * Gives back leases taken for attempts never started (the forwarder is stopping): the
   * deliveries are due again at once, the attempt not counted. One taken over is left.
   */
  releaseLeases(leases: Pick<LeasedDelivery, 'id' | 'leaseUntil'>[]): Promise<void>
  /** The destination answered 410: no more deliveries to it until one is retried. */
  stopDestination(url: string, reason: string, now: Date): Promise<number>
  /** Schedules a failed delivery again (and resumes its destination if it was stopped). */
  retryDelivery(id: number, now: Date): Promise<RetryOutcome>
}

/** What GET /deliveries and the forwarding gauges read, from any thread that serves HTTP. */
export interface DeliveryReads {
  listDeliveries(query: DeliveryQuery): Promise<Delivery[]>
  deliveryBacklog(urls: string[]): Promise<DeliveryBacklog>
}
