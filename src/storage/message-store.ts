/** A message as the contract shows it; `text` is null when it was absent or null. */
export interface Message {
  message_id: string
  from: string
  to: string
  ts: string
  text: string | null
}

export type InsertOutcome = 'created' | 'duplicate'

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
}

export interface MessagePage {
  data: Message[]
  /** Every match of the filters, ignoring paging. */
  total: number
  /** Where the next page starts, when there is one. */
  next?: PagePosition
}

export interface SenderCount {
  from: string
  count: number
}

export interface Stats {
  total_messages: number
  senders_count: number
  messages_per_sender: SenderCount[]
  first_message_ts: string | null
  last_message_ts: string | null
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
  insert(message: Message): Promise<InsertOutcome>
  list(query: MessageQuery): Promise<MessagePage>
  stats(): Promise<Stats>
  health(): Promise<StoreHealth>
  /** Finishes pending writes, then releases the database. */
  close(): Promise<void>
}
