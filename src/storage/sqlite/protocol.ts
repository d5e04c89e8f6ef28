import type { MessageRow } from '../insert-queue.js'
import type { DeletionTarget } from '../message-store.js'

/**
 * What the main thread and the writer thread say to each other. Plain objects and arrays
 * only: they cross threads by structured clone, and one message carries a whole batch.
 */

/** A message as the writer stores it (insert-queue.ts's MessageRow). */
export type InsertRow = MessageRow

/** A status as the writer stores it: message_id, status, ts, recipient_id, errors. */
export type StatusRow = [string, string, string, string, string | null]

/** One caller's writes: committed together or not at all. */
export interface InsertUnit {
  messages: InsertRow[]
  statuses: StatusRow[]
}

/** A row's own failure (a constraint), sent back to the caller who inserted it. */
export interface RowError {
  code: string | undefined
  message: string
}

/** Per unit of a batch: 1 created or 0 duplicate for each of its rows, or the unit's own error. */
export type UnitOutcome = { messages: (1 | 0)[]; statuses: (1 | 0)[] } | RowError

export type WriterRequest =
  | { kind: 'insert'; batch: number; units: InsertUnit[] }
  /** Readiness: answers the schema version, and tries a real write while writes fail. */
  | { kind: 'health'; id: number }
  /** Recomputes counters and indexes from the messages (after a bulk load behind the store). */
  | { kind: 'rebuild'; id: number }
  /** Deletes messages (MessageWriter.delete); answers how many. */
  | { kind: 'delete'; id: number; target: DeletionTarget }
  /** The search index has dropped the deleted rows noted up to `upTo`. */
  | { kind: 'forget-purged'; upTo: number }
  /** Forgets tombstones of deletions before this instant (ms since 1970); answers how many. */
  | { kind: 'prune-tombstones'; id: number; beforeMs: number }
  /** Finishes the checkpoint of a long WAL, so that the next transaction rewinds it. */
  | { kind: 'rewind' }
  /** Commits everything before it, closes the connection and ends the thread. */
  | { kind: 'close' }
  /** Fault injection for tests: run a PRAGMA on the write connection. */
  | { kind: 'pragma'; id: number; pragma: string }
  /** Fault injection for tests: count in `gate[1]`, then block until `gate[0]` becomes non-zero. */
  | { kind: 'hold'; id: number; gate: Int32Array }

export type WriterReply =
  | { kind: 'ready' }
  | { kind: 'inserted'; batch: number; outcomes: UnitOutcome[]; transactions: number }
  /** The whole batch could not commit (disk full, lock held elsewhere, I/O error). */
  | { kind: 'insert-failed'; batch: number; message: string; code: string | undefined }
  | { kind: 'health'; id: number; database: boolean; schemaVersion: number | null }
  | { kind: 'done'; id: number; result?: unknown; error?: RowError }
  | { kind: 'closed' }
