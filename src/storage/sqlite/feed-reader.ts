import type Database from 'better-sqlite3'
import type { MessageDetailRow } from '../detail-rows.js'
import { assembleEvents, type EventRow, type EventStatusRow, eventSubjects } from '../feed-rows.js'
import type { FeedEvent } from '../message-store.js'
import { inSnapshot, statementCache } from './connection.js'

type StoredDetailRow = Omit<MessageDetailRow, 'payload'> & { payload: string | null }
type StoredStatusRow = Omit<EventStatusRow, 'errors'> & { errors: string | null }

const EVENT_COLUMNS = 'seq, type, message_id, status, reason, created_at'

/**
 * Reads the feed on one connection: a reader thread's for GET /events, the writer's for the
 * events that leased deliveries carry. Events and their data come from one snapshot.
 */
export class FeedReader {
  private readonly cached
  private readonly snapshot

  constructor(db: Database.Database) {
    this.cached = statementCache(db)
    this.snapshot = inSnapshot(db)
  }

  /** Events after `after`, in commit order. */
  after(after: number, limit: number): FeedEvent[] {
    return this.snapshot(() =>
      this.withData(
        this.cached(`SELECT ${EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`).all(
          after,
          limit,
        ) as EventRow[],
      ),
    )
  }

  /** The events at these positions, in commit order. */
  at(seqs: number[]): FeedEvent[] {
    return this.snapshot(() =>
      this.withData(
        this.cached(
          `SELECT ${EVENT_COLUMNS} FROM events WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq`,
        ).all(JSON.stringify(seqs)) as EventRow[],
      ),
    )
  }

  /** The positions after `after`, in order. */
  seqsAfter(after: number, limit: number): number[] {
    return this.cached('SELECT seq FROM events WHERE seq > ? ORDER BY seq LIMIT ?')
      .pluck()
      .all(after, limit) as number[]
  }

  /** The newest position (0 while the feed is empty). */
  head(): number {
    return (this.cached('SELECT coalesce(max(seq), 0) FROM events').pluck().get() as number) ?? 0
  }

  private withData(rows: EventRow[]): FeedEvent[] {
    if (rows.length === 0) return []
    const subjects = eventSubjects(rows)
    const messages = (
      this.cached(
        `SELECT message_id, from_msisdn, to_msisdn, ts, text, source, type, contact_name,
           created_at AS received_at, payload
         FROM messages WHERE message_id IN (SELECT value FROM json_each(?))`,
      ).all(JSON.stringify(subjects.messages)) as StoredDetailRow[]
    ).map((m) => ({ ...m, payload: m.payload === null ? null : (JSON.parse(m.payload) as unknown) }))
    const statuses = (
      this.cached(
        `SELECT message_id, status, ts, recipient_id, errors FROM message_statuses
         WHERE message_id IN (SELECT value FROM json_each(?))`,
      ).all(JSON.stringify(subjects.statuses)) as StoredStatusRow[]
    ).map((s) => ({ ...s, errors: s.errors === null ? null : (JSON.parse(s.errors) as unknown[]) }))
    return assembleEvents(rows, messages, statuses)
  }
}
