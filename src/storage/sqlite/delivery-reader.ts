import type Database from 'better-sqlite3'
import type { Delivery, DeliveryBacklog, DeliveryQuery } from '../../forwarding/delivery-store.js'
import { statementCache } from './connection.js'

/** GET /deliveries and the forwarding gauges, on a reader thread's connection (forward-database.ts attached). */
export class DeliveryReader {
  private readonly cached

  constructor(db: Database.Database) {
    this.cached = statementCache(db)
  }

  list(query: DeliveryQuery): Delivery[] {
    const filters: string[] = []
    const params: unknown[] = []
    if (query.status !== undefined) {
      filters.push('status = ?')
      params.push(query.status)
    }
    if (query.before !== undefined) {
      filters.push('id < ?')
      params.push(query.before)
    }
    const where = filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : ''
    return this.cached(
      `SELECT id, CAST(event_seq AS TEXT) AS event_id, destination, status, attempts, last_status_code,
         last_error, next_attempt_at, delivered_at
       FROM forward.deliveries ${where} ORDER BY id DESC LIMIT ?`,
    ).all(...params, query.limit) as Delivery[]
  }

  backlog(urls: string[]): DeliveryBacklog {
    const row = this.cached(
      `SELECT count(*) AS pending, min(created_at) AS oldest FROM forward.deliveries
       WHERE status = 'pending' AND destination IN (SELECT value FROM json_each(?))`,
    ).get(JSON.stringify(urls)) as { pending: number; oldest: string | null }
    return { pending: row.pending, oldestPendingAt: row.oldest }
  }
}
