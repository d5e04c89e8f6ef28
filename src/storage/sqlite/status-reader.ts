import type Database from 'better-sqlite3'
import { timestampSortKey } from '../../domain/timestamp.js'
import {
  CURRENT_STATUS_COLUMNS,
  type CurrentStatusRow,
  type StatusHistoryRow,
  statusDetails,
} from '../detail-rows.js'
import type { StatusDetail, StatusPage, StatusQuery } from '../message-store.js'
import { inSnapshot, statementCache } from './connection.js'

/** A message_statuses row as SQLite keeps it: the errors are JSON text. */
type StoredHistoryRow = Omit<StatusHistoryRow, 'errors'> & { errors: string | null }

/** Delivery statuses (GET /statuses and /statuses/{message_id}), on a reader's connection. */
export class StatusReader {
  private readonly cached: (sql: string) => Database.Statement
  private readonly snapshot: <T>(run: () => T) => T

  constructor(readonly db: Database.Database) {
    this.snapshot = inSnapshot(db)
    this.cached = statementCache(db)
  }

  get(messageId: string): StatusDetail | null {
    return this.snapshot(() => {
      const current = this.cached(
        `SELECT ${CURRENT_STATUS_COLUMNS} FROM status_current WHERE message_id = ?`,
      ).get(messageId) as CurrentStatusRow | undefined
      return current === undefined ? null : (this.withHistory([current])[0] as StatusDetail)
    })
  }

  list(query: StatusQuery): StatusPage {
    const where: string[] = []
    const params: unknown[] = []
    if (query.status !== undefined) {
      where.push('status = ?')
      params.push(query.status)
    }
    if (query.recipient !== undefined) {
      where.push('recipient_id = ?')
      params.push(query.recipient)
    }
    if (query.since !== undefined) {
      where.push('updated_key >= ?')
      params.push(timestampSortKey(query.since))
    }
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
    return this.snapshot(() => {
      const total = this.cached(`SELECT COUNT(*) FROM status_current ${filter}`)
        .pluck()
        .get(...params) as number
      const pageWhere = [...where]
      const pageParams = [...params]
      if (query.after !== undefined) {
        pageWhere.push('(updated_key, message_id) > (?, ?)')
        pageParams.push(query.after.key, query.after.messageId)
      }
      const rows = this.cached(
        `SELECT ${CURRENT_STATUS_COLUMNS} FROM status_current ${pageWhere.length > 0 ? `WHERE ${pageWhere.join(' AND ')}` : ''}
         ORDER BY updated_key, message_id LIMIT ? OFFSET ?`,
      ).all(...pageParams, query.limit + 1, query.offset) as CurrentStatusRow[]
      const more = rows.length > query.limit
      if (more) rows.length = query.limit
      const last = rows.at(-1)
      return {
        data: this.withHistory(rows),
        total,
        ...(more && last ? { next: { key: last.updated_key, messageId: last.message_id } } : {}),
      }
    })
  }

  /** Each current status with every status received for its message. */
  private withHistory(rows: CurrentStatusRow[]): StatusDetail[] {
    if (rows.length === 0) return []
    const history = this.cached(
      `SELECT message_id, status, ts, errors FROM message_statuses
       WHERE message_id IN (SELECT value FROM json_each(?))`,
    ).all(JSON.stringify(rows.map((r) => r.message_id))) as StoredHistoryRow[]
    return statusDetails(
      rows,
      history.map((h) => ({ ...h, errors: h.errors === null ? null : (JSON.parse(h.errors) as unknown[]) })),
    )
  }
}
