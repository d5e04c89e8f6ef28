import type { MessageStatus } from '../domain/message-status.js'
import type { Bucket, TimelinePoint } from '../domain/timeline.js'
import type { ExportFormat } from '../export/formats.js'

/** A message as the contract shows it; `text` is null when it was absent or null. */
export interface Message {
  message_id: string
  from: string
  to: string
  ts: string
  text: string | null
}

/** Where a message came in: POST /webhook, or a provider's route. */
export type MessageSource = 'webhook' | 'whatsapp'

/** A message to store: the contract's fields and what a provider's message keeps beside them. */
export interface NewMessage extends Message {
  /** 'webhook' when absent. */
  source?: MessageSource
  /** The provider's message type (text, image, reaction, …). */
  type?: string | null
  /** The sender's profile name, as the provider gave it. */
  contactName?: string | null
  /** The business number that received it (WhatsApp's phone_number_id). */
  phoneNumberId?: string | null
  /** The provider's whole item, as JSON text. */
  payload?: string | null
}

/** A delivery status of a message (usually one the business sent, which Inlet never stored). */
export interface NewStatus {
  messageId: string
  status: MessageStatus
  /** When the status happened, `YYYY-MM-DDTHH:MM:SSZ`. */
  ts: string
  recipientId: string
  /** The provider's errors (a JSON array as text), or null. */
  errors: string | null
}

/** Everything one provider request carries, committed in one transaction. */
export interface IngestBatch {
  messages: NewMessage[]
  statuses: NewStatus[]
}

export type InsertOutcome = 'created' | 'duplicate'

/** Per item of an IngestBatch: `created` for a new message or a new (message, status) pair. */
export interface IngestResult {
  messages: InsertOutcome[]
  statuses: InsertOutcome[]
}

/** One message with everything kept about it (GET /messages/{message_id}). */
export interface MessageDetail extends Message {
  source: MessageSource
  type: string | null
  contact_name: string | null
  /** When Inlet committed it, ISO-8601 UTC with milliseconds. */
  received_at: string
  payload: unknown
}

export interface StatusEntry {
  status: MessageStatus
  ts: string
  errors: unknown[] | null
}

/** A message's statuses (GET /statuses/{message_id}): the current one and each received. */
export interface StatusDetail {
  message_id: string
  recipient_id: string
  status: MessageStatus
  /** The `ts` of the current status. */
  updated_at: string
  /** One entry per status, in the forward order (domain/message-status.ts). */
  history: StatusEntry[]
}

/** Filters and paging of GET /statuses, already validated. */
export interface StatusQuery {
  limit: number
  offset: number
  /** Resume strictly after this (updated_at's sort key, message_id). */
  after?: PagePosition
  status?: MessageStatus
  recipient?: string
  /** Inclusive lower bound on updated_at, in the contract's timestamp grammar. */
  since?: string
}

export interface StatusPage {
  data: StatusDetail[]
  total: number
  next?: PagePosition
}

/**
 * A place in the contract's total order: the instant's sort key (domain/timestamp.ts) and
 * the message_id. Keyset pagination resumes strictly after it.
 */
export interface PagePosition {
  key: string
  messageId: string
}

/** Filters and paging of GET /messages, already validated. */
export interface MessageQuery {
  limit: number
  /** Rows skipped (after `after`, when given). */
  offset: number
  /** Start strictly after this position instead of at the beginning. */
  after?: PagePosition
  from?: string
  /** Inclusive lower bound, in the contract's timestamp grammar. */
  since?: string
  /** Non-empty substring, matched case-insensitively (see domain/text-search). */
  q?: string
  /**
   * false: the caller needs no total (an export reads page after page); a store whose
   * count would be a scan may skip it and answer 0. SQLite's remembered counts cost little.
   */
  countTotal?: false
}

export interface MessagePage {
  data: Message[]
  /** Every match of the filters, ignoring paging. */
  total: number
  /** Where the next page starts, when there is one. */
  next?: PagePosition
}

/** One page of GET /export, already in its format (see MessageStore.exportPage). */
export interface ExportPage {
  text: string
  rows: number
  next?: PagePosition
}

export interface SenderCount {
  from: string
  count: number
}

export type { Bucket, TimelinePoint }

export interface Stats {
  total_messages: number
  senders_count: number
  messages_per_sender: SenderCount[]
  first_message_ts: string | null
  last_message_ts: string | null
}

export type EventType = 'message.created' | 'status.updated' | 'message.deleted'

/** Why messages were deleted: DELETE /messages/{id}, an erasure (DELETE /messages?from=), RETENTION_DAYS. */
export type DeletionReason = 'single' | 'erasure' | 'retention'

/** Which messages a deletion removes. */
export type DeletionTarget =
  | { reason: 'single'; messageId: string }
  /** At most `limit` of the sender's messages: lifecycle/deletions.ts repeats until none are left. */
  | { reason: 'erasure'; from: string; limit: number }
  /** The oldest messages (in the contract's order) whose ts sorts before `beforeKey`, at most `limit`. */
  | { reason: 'retention'; beforeKey: string; limit: number }

/** A message.deleted event's data: which message went, and why. */
export interface DeletedMessage {
  message_id: string
  reason: DeletionReason
}

/**
 * One entry of the feed (SPEC 2.4). `seq` is its position in commit order; the HTTP layer
 * shows it as the event's opaque id. `data` is built when the event is read: the message
 * as GET /messages/{id} shows it, or the status as GET /statuses/{id} showed it right
 * after this status arrived (its history up to this status).
 */
export interface FeedEvent {
  seq: number
  type: EventType
  /** When the event's transaction committed, ISO-8601 UTC with milliseconds. */
  created_at: string
  /**
   * A message.created event of a message deleted since carries `{message_id}` only: the
   * content is gone everywhere.
   */
  data: MessageDetail | StatusDetail | DeletedMessage | Pick<Message, 'message_id'>
}

export interface StoreHealth {
  database: boolean
  schema: boolean
}

/**
 * The storage port. Methods are async so that a networked database fits the same shape.
 * Writes resolve only once the row is durably committed; a store that cannot reach its
 * database rejects with StorageUnavailableError.
 */
export interface MessageStore {
  /** Stores the message unless its message_id exists already (the first write wins). */
  insert(message: NewMessage): Promise<InsertOutcome>
  /**
   * Stores a provider request's messages (first write wins, as insert) and statuses (once per
   * message and status; the current status only moves forward) in one transaction.
   */
  ingest(batch: IngestBatch): Promise<IngestResult>
  /**
   * Deletes messages and everything derived from them, in one transaction with a
   * message.deleted event per message and (except for retention) a tombstone, so that the
   * same message_id delivered again is acknowledged as a duplicate and not stored. Returns
   * how many it deleted. An erasure or retention deletes one bounded chunk per call.
   */
  delete(target: DeletionTarget): Promise<number>
  /** Forgets the tombstones of deletions made before `before`; returns how many. */
  pruneTombstones(before: Date): Promise<number>
  list(query: MessageQuery): Promise<MessagePage>
  /**
   * A page of `list` (without its total) as the text of an export: built where the rows
   * are read, so on SQLite they cross from the reader thread as one string, not as objects
   * that the main thread would keep while the socket drains (a long export grew its heap).
   */
  exportPage(query: MessageQuery, format: ExportFormat, first: boolean): Promise<ExportPage>
  getMessage(messageId: string): Promise<MessageDetail | null>
  getStatus(messageId: string): Promise<StatusDetail | null>
  listStatuses(query: StatusQuery): Promise<StatusPage>
  stats(): Promise<Stats>
  /** Messages per bucket over the `buckets` buckets ending with the latest message's; [] when empty. */
  timeline(bucket: Bucket, buckets: number): Promise<TimelinePoint[]>
  /** The position of the feed's last event (0 when empty): reading after it sees only later commits. */
  feedHead(): Promise<number>
  /** Events after position `after` (0: from the beginning), in commit order. */
  readEvents(after: number, limit: number): Promise<FeedEvent[]>
  /**
   * Calls `listener` after every commit that may have added events (on PostgreSQL, a
   * commit by any replica). Returns the function that removes it.
   */
  onEvents(listener: () => void): () => void
  health(): Promise<StoreHealth>
  /** Finishes pending writes, then releases the database. */
  close(): Promise<void>
}
