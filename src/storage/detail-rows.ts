import { compareStatuses, type MessageStatus } from '../domain/message-status.js'
import type { MessageDetail, MessageSource, StatusDetail, StatusEntry } from './message-store.js'

// The rows both adapters read for GET /messages/{id} and /statuses, and how they become
// answers. Each adapter selects the same columns and parses its JSON columns first
// (PostgreSQL's driver does that itself; SQLite keeps them as text).

/** A messages row, its JSON `payload` parsed. */
export interface MessageDetailRow {
  message_id: string
  from_msisdn: string
  to_msisdn: string
  ts: string
  text: string | null
  source: MessageSource
  type: string | null
  contact_name: string | null
  received_at: string
  payload: unknown
}

export function messageDetail(row: MessageDetailRow): MessageDetail {
  return {
    message_id: row.message_id,
    from: row.from_msisdn,
    to: row.to_msisdn,
    ts: row.ts,
    text: row.text,
    source: row.source,
    type: row.type,
    contact_name: row.contact_name,
    received_at: row.received_at,
    payload: row.payload,
  }
}

/** A status_current row: a message's current status and the key it sorts by. */
export interface CurrentStatusRow {
  message_id: string
  recipient_id: string
  status: MessageStatus
  updated_at: string
  updated_key: string
}

export const CURRENT_STATUS_COLUMNS = 'message_id, recipient_id, status, updated_at, updated_key'

/** A message_statuses row, its JSON `errors` parsed. */
export interface StatusHistoryRow {
  message_id: string
  status: MessageStatus
  ts: string
  errors: unknown[] | null
}

/** Each current status with every status received for its message, in the forward order. */
export function statusDetails(rows: CurrentStatusRow[], history: StatusHistoryRow[]): StatusDetail[] {
  const byMessage = new Map<string, StatusEntry[]>()
  for (const h of history) {
    const entries = byMessage.get(h.message_id) ?? []
    entries.push({ status: h.status, ts: h.ts, errors: h.errors })
    byMessage.set(h.message_id, entries)
  }
  return rows.map((r) => ({
    message_id: r.message_id,
    recipient_id: r.recipient_id,
    status: r.status,
    updated_at: r.updated_at,
    history: (byMessage.get(r.message_id) ?? []).sort((a, b) => compareStatuses(a.status, b.status)),
  }))
}
