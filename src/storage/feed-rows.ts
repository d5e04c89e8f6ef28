import { compareStatuses, type MessageStatus, statusRank } from '../domain/message-status.js'
import { type MessageDetailRow, messageDetail } from './detail-rows.js'
import type { DeletionReason, EventType, FeedEvent, StatusEntry } from './message-store.js'

// The feed's rows, and how both adapters turn them into events. An events row names what
// happened (a message stored, a message's current status moved); the data is read beside
// it, so the feed costs one small row per event on the write path.

export interface EventRow {
  seq: number
  type: EventType
  message_id: string
  /** The status that became current (status.updated), else null. */
  status: MessageStatus | null
  /** Why the message went (message.deleted), else null. */
  reason: DeletionReason | null
  created_at: string
}

/** A message_statuses row, `errors` parsed, with its recipient. */
export interface EventStatusRow {
  message_id: string
  status: MessageStatus
  ts: string
  recipient_id: string
  errors: unknown[] | null
}

/**
 * Events with their data: a message.created event carries the message (GET /messages/{id}),
 * a status.updated event the status as it was when it became current, so a consumer reading
 * old events sees each step and not only the latest one.
 */
export function assembleEvents(
  rows: EventRow[],
  messages: MessageDetailRow[],
  statuses: EventStatusRow[],
): FeedEvent[] {
  const messageById = new Map(messages.map((m) => [m.message_id, m]))
  const statusesById = new Map<string, EventStatusRow[]>()
  for (const s of statuses) {
    const list = statusesById.get(s.message_id) ?? []
    list.push(s)
    statusesById.set(s.message_id, list)
  }
  return rows.map((row): FeedEvent => {
    const base = { seq: Number(row.seq), type: row.type, created_at: row.created_at }
    if (row.type === 'message.deleted') {
      return { ...base, data: { message_id: row.message_id, reason: row.reason as DeletionReason } }
    }
    if (row.type === 'message.created') {
      // Deleted since: its content is gone from the feed too.
      const message = messageById.get(row.message_id)
      return { ...base, data: message ? messageDetail(message) : { message_id: row.message_id } }
    }
    const status = row.status as MessageStatus
    const all = statusesById.get(row.message_id) ?? []
    const own = all.find((s) => s.status === status)
    const history: StatusEntry[] = all
      .filter((s) => statusRank(s.status) <= statusRank(status))
      .sort((a, b) => compareStatuses(a.status, b.status))
      .map((s) => ({ status: s.status, ts: s.ts, errors: s.errors }))
    return {
      ...base,
      data: {
        message_id: row.message_id,
        recipient_id: own?.recipient_id ?? '',
        status,
        updated_at: own?.ts ?? '',
        history,
      },
    }
  })
}

/** The message ids whose rows the events need, by kind. */
export function eventSubjects(rows: EventRow[]): { messages: string[]; statuses: string[] } {
  const messages = new Set<string>()
  const statuses = new Set<string>()
  for (const row of rows) {
    if (row.type === 'message.created') messages.add(row.message_id)
    else if (row.type === 'status.updated') statuses.add(row.message_id)
  }
  return { messages: [...messages], statuses: [...statuses] }
}
