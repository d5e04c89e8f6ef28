import type Database from 'better-sqlite3'
import type { AttemptResult, LeasedDelivery, RetryOutcome } from '../../forwarding/delivery-store.js'
import { statementCache, withoutFsync } from './connection.js'
import type { FeedReader } from './feed-reader.js'

/** What the store asks the writer thread to do with deliveries (forwarding/delivery-store.ts). */
export type DeliveryOp =
  | { op: 'register'; urls: string[]; now: string }
  | { op: 'dispatch'; url: string; limit: number; now: string }
  | { op: 'lease'; urls: string[]; now: string; leaseUntil: string; limit: number }
  | { op: 'record'; results: AttemptResult[] }
  | { op: 'stop'; url: string; reason: string; now: string }
  | { op: 'retry'; id: number; now: string }

/**
 * Delivery state on the writer thread's connection. Its transactions do not fsync: a crash
 * can lose only the newest changes, and each is redone safely (deliveries are created again
 * from the destination's place in the feed, an attempt whose result was lost is made again:
 * at least once, as SPEC 2.4 promises), while message batches keep their fsync to themselves.
 */
export class DeliveryWriter {
  private readonly cached

  constructor(
    private readonly db: Database.Database,
    private readonly feed: FeedReader,
  ) {
    this.cached = statementCache(db)
  }

  run(op: DeliveryOp): unknown {
    switch (op.op) {
      case 'register':
        return withoutFsync(this.db, () => {
          const head = this.feed.head()
          const add = this.cached(
            'INSERT INTO forward_destinations (url, dispatched_seq) VALUES (?, ?) ON CONFLICT (url) DO NOTHING',
          )
          for (const url of op.urls) add.run(url, head)
        })
      case 'dispatch':
        return withoutFsync(this.db, () => this.dispatch(op.url, op.limit, op.now))
      case 'lease':
        return withoutFsync(this.db, () => this.lease(op))
      case 'record':
        return withoutFsync(this.db, () => {
          const record = this.cached(
            `UPDATE deliveries SET status = ?, last_status_code = ?, last_error = ?, next_attempt_at = ?,
               delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END, lease_until = NULL
             WHERE id = ? AND lease_until = ?`,
          )
          for (const r of op.results) {
            record.run(r.status, r.statusCode, r.error, r.nextAttemptAt, r.status, r.at, r.id, r.leaseUntil)
          }
        })
      case 'stop':
        return withoutFsync(this.db, () => {
          this.cached('UPDATE forward_destinations SET gone_at = ? WHERE url = ?').run(op.now, op.url)
          return this.cached(
            `UPDATE deliveries SET status = 'failed', last_error = ?, next_attempt_at = NULL, lease_until = NULL
             WHERE destination = ? AND status = 'pending'`,
          ).run(op.reason, op.url).changes
        })
      case 'retry':
        return withoutFsync(this.db, () => this.retry(op.id, op.now))
    }
  }

  /** Deliveries for the destination's next events, and its place moved past them. */
  private dispatch(url: string, limit: number, now: string): number {
    const place = this.cached(
      'SELECT dispatched_seq FROM forward_destinations WHERE url = ? AND gone_at IS NULL',
    )
      .pluck()
      .get(url) as number | undefined
    if (place === undefined) return 0
    const seqs = this.cached('SELECT seq FROM events WHERE seq > ? ORDER BY seq LIMIT ?')
      .pluck()
      .all(place, limit) as number[]
    if (seqs.length === 0) return 0
    const add = this.cached(
      `INSERT INTO deliveries (event_seq, destination, status, next_attempt_at, created_at)
       VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (destination, event_seq) DO NOTHING`,
    )
    for (const seq of seqs) add.run(seq, url, now, now)
    this.cached('UPDATE forward_destinations SET dispatched_seq = ? WHERE url = ?').run(seqs.at(-1), url)
    return seqs.length
  }

  private lease(op: Extract<DeliveryOp, { op: 'lease' }>): LeasedDelivery[] {
    const rows = this.cached(
      `UPDATE deliveries SET lease_until = ?, attempts = attempts + 1
       WHERE id IN (
         SELECT id FROM deliveries
         WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
           AND destination IN (SELECT value FROM json_each(?))
         ORDER BY next_attempt_at, id LIMIT ?)
       RETURNING id, event_seq, destination, attempts`,
    ).all(op.leaseUntil, op.now, op.now, JSON.stringify(op.urls), op.limit) as {
      id: number
      event_seq: number
      destination: string
      attempts: number
    }[]
    const events = new Map(this.feed.at(rows.map((r) => r.event_seq)).map((e) => [e.seq, e]))
    return rows.flatMap((r) => {
      const event = events.get(r.event_seq)
      return event
        ? [{ id: r.id, destination: r.destination, attempts: r.attempts, leaseUntil: op.leaseUntil, event }]
        : []
    })
  }

  private retry(id: number, now: string): RetryOutcome {
    const row = this.cached('SELECT status, destination FROM deliveries WHERE id = ?').get(id) as
      | { status: string; destination: string }
      | undefined
    if (row === undefined) return 'not_found'
    if (row.status !== 'failed') return 'not_failed'
    this.cached(
      `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_until = NULL WHERE id = ?`,
    ).run(now, id)
    // An operator retrying a delivery to a stopped (410) destination says it is back.
    this.cached('UPDATE forward_destinations SET gone_at = NULL WHERE url = ?').run(row.destination)
    return 'scheduled'
  }
}
