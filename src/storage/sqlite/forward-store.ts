import type Database from 'better-sqlite3'
import type {
  AttemptResult,
  DeliveryWrites,
  LeasedDelivery,
  RetryOutcome,
} from '../../forwarding/delivery-store.js'
import { openReadConnection, statementCache } from './connection.js'
import { FeedReader } from './feed-reader.js'
import { openForwardDatabase } from './forward-database.js'

/** How often the deliveries' WAL is copied into their file (see checkpoint()). */
const CHECKPOINT_INTERVAL_MS = 30_000

/**
 * Forwarding's writes on SQLite, in the forwarder thread: the deliveries database
 * (forward-database.ts) on a connection of its own, and the feed read from the messages
 * database on a read-only one. Nothing here takes the messages' write lock.
 */
export class SqliteForwardStore implements DeliveryWrites {
  private readonly db: Database.Database
  private readonly inbox: Database.Database
  private readonly feed: FeedReader
  private readonly cached
  private readonly checkpoints: NodeJS.Timeout

  constructor(file: string, busyTimeoutMs: number) {
    this.inbox = openReadConnection(file)
    const owner = this.inbox.prepare('SELECT store_id FROM store_meta WHERE id = 1').pluck().get() as string
    this.feed = new FeedReader(this.inbox)
    this.db = openForwardDatabase(file, owner, this.feed.head(), busyTimeoutMs)
    this.cached = statementCache(this.db)
    this.checkpoints = setInterval(() => this.checkpoint(), CHECKPOINT_INTERVAL_MS)
    this.checkpoints.unref()
  }

  /**
   * Copies the WAL into the file, with its fsyncs, every CHECKPOINT_INTERVAL_MS: one flush of
   * the disk per interval instead of one per 1,000 pages written, so the message batches'
   * COMMITs rarely queue behind one (measured: webhook p99 at 1,000/s 258 ms with SQLite's
   * own checkpoints, about the same as without forwarding with these).
   */
  private checkpoint(): void {
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)')
    } catch {
      // Busy or failing: the next interval tries again.
    }
  }

  /** Commits reach the forwarder as messages from the main thread. */
  onEvents(): () => void {
    return () => {}
  }

  async registerDestinations(urls: string[]): Promise<void> {
    const head = this.feed.head()
    const add = this.cached(
      'INSERT INTO forward_destinations (url, dispatched_seq) VALUES (?, ?) ON CONFLICT (url) DO NOTHING',
    )
    this.write(() => {
      for (const url of urls) add.run(url, head)
    })
  }

  /** Deliveries for the destination's next events, and its place moved past them. */
  async dispatch(url: string, limit: number, now: Date): Promise<number> {
    const at = now.toISOString()
    const add = this.cached(
      `INSERT INTO deliveries (event_seq, destination, status, next_attempt_at, created_at)
       VALUES (?, ?, 'pending', ?, ?)`,
    )
    // The place is read in the transaction that moves it: two processes on one file never
    // make the same deliveries.
    return this.write(() => {
      const place = this.cached(
        'SELECT dispatched_seq FROM forward_destinations WHERE url = ? AND gone_at IS NULL',
      )
        .pluck()
        .get(url) as number | undefined
      if (place === undefined) return 0
      const seqs = this.feed.seqsAfter(place, limit)
      if (seqs.length === 0) return 0
      for (const seq of seqs) add.run(seq, url, at, at)
      this.cached('UPDATE forward_destinations SET dispatched_seq = ? WHERE url = ?').run(seqs.at(-1), url)
      return seqs.length
    })
  }

  async leaseDue(urls: string[], now: Date, leaseMs: number, limit: number): Promise<LeasedDelivery[]> {
    const leaseUntil = new Date(now.getTime() + leaseMs).toISOString()
    const at = now.toISOString()
    const rows = this.write(
      () =>
        this.cached(
          `UPDATE deliveries SET lease_until = ?, attempts = attempts + 1
           WHERE id IN (
             SELECT id FROM deliveries
             WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
               AND destination IN (SELECT value FROM json_each(?))
             ORDER BY next_attempt_at, id LIMIT ?)
           RETURNING id, event_seq, destination, attempts`,
        ).all(leaseUntil, at, at, JSON.stringify(urls), limit) as {
          id: number
          event_seq: number
          destination: string
          attempts: number
        }[],
    )
    const events = new Map(this.feed.at(rows.map((r) => r.event_seq)).map((e) => [e.seq, e]))
    return rows.flatMap((r) => {
      const event = events.get(r.event_seq)
      return event ? [{ id: r.id, destination: r.destination, attempts: r.attempts, leaseUntil, event }] : []
    })
  }

  async releaseLeases(leases: Pick<LeasedDelivery, 'id' | 'leaseUntil'>[]): Promise<void> {
    const release = this.cached(
      'UPDATE deliveries SET lease_until = NULL, attempts = attempts - 1 WHERE id = ? AND lease_until = ?',
    )
    this.write(() => {
      for (const lease of leases) release.run(lease.id, lease.leaseUntil)
    })
  }

  async recordAttempts(results: AttemptResult[]): Promise<void> {
    const record = this.cached(
      `UPDATE deliveries SET status = ?, last_status_code = ?, last_error = ?, next_attempt_at = ?,
         delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END, lease_until = NULL
       WHERE id = ? AND lease_until = ?`,
    )
    this.write(() => {
      for (const r of results) {
        record.run(r.status, r.statusCode, r.error, r.nextAttemptAt, r.status, r.at, r.id, r.leaseUntil)
      }
    })
  }

  async stopDestination(url: string, reason: string, now: Date): Promise<number> {
    return this.write(() => {
      this.cached('UPDATE forward_destinations SET gone_at = ? WHERE url = ?').run(now.toISOString(), url)
      return this.cached(
        `UPDATE deliveries SET status = 'failed', last_error = ?, next_attempt_at = NULL, lease_until = NULL
         WHERE destination = ? AND status = 'pending'`,
      ).run(reason, url).changes
    })
  }

  async retryDelivery(id: number, now: Date): Promise<RetryOutcome> {
    return this.write(() => {
      const row = this.cached('SELECT status, destination FROM deliveries WHERE id = ?').get(id) as
        | { status: string; destination: string }
        | undefined
      if (row === undefined) return 'not_found'
      if (row.status !== 'failed') return 'not_failed'
      this.cached(
        `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_until = NULL WHERE id = ?`,
      ).run(now.toISOString(), id)
      // An operator retrying a delivery to a stopped (410) destination says it is back.
      this.cached('UPDATE forward_destinations SET gone_at = NULL WHERE url = ?').run(row.destination)
      return 'scheduled'
    })
  }

  async close(): Promise<void> {
    clearInterval(this.checkpoints)
    this.checkpoint()
    this.db.close()
    this.inbox.close()
  }

  private write<T>(work: () => T): T {
    return this.db.transaction(work).immediate()
  }
}
