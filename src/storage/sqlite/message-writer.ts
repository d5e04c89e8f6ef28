import type Database from 'better-sqlite3'
import { compareUtf8 } from '../../domain/byte-order.js'
import { type MessageStatus, statusRank } from '../../domain/message-status.js'
import { timestampSortKey } from '../../domain/timestamp.js'
import type { DeletionTarget } from '../message-store.js'
import { withoutFsync } from './connection.js'
import { REBUILD_COUNTERS_SQL } from './migrations.js'
import type { InsertRow, InsertUnit, RowError, UnitOutcome } from './protocol.js'

const DAY_MS = 86_400_000

/** A row a deletion removes, and what its derived state is keyed by. */
interface DeletedRow {
  row: number
  message_id: string
  from_msisdn: string
  ts_key: string
  has_text: 0 | 1
}

/** The readiness probe's row: bigger than a page, so it needs pages of its own. */
const WRITE_PROBE_BYTES = 16 * 1024

const ID = 0
const FROM = 1
const TS = 3
const TS_KEY = 4

/** The contract's order: instant, then message_id in UTF-8 byte order. */
function compareOrder(a: InsertRow, b: InsertRow): number {
  if (a[TS_KEY] !== b[TS_KEY]) return a[TS_KEY] < b[TS_KEY] ? -1 : 1 // ASCII keys: code units are bytes
  return compareUtf8(a[ID], b[ID])
}

/**
 * Constraint failures are the row's own fault; everything else (disk full, read-only file,
 * I/O error, a lock held elsewhere) means the database cannot take writes now.
 */
export function isRowError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT')
}

export function describeError(error: unknown): RowError {
  const code = (error as { code?: unknown }).code
  return { code: typeof code === 'string' ? code : undefined, message: String((error as Error).message) }
}

/**
 * Everything that writes, on the writer thread's connection: message batches with their
 * counters, the search and sender indexes' upkeep, the readiness probe, rebuilds.
 */
export class MessageWriter {
  /** Transactions that committed message batches (tests read it to see batching). */
  transactions = 0
  /** Set when a write failed for want of storage, cleared by the next write that commits. */
  writesFailing = false
  /** messages.rowid up to which the sender index is complete (index_progress). */
  private indexedUpTo: number
  private readonly statements

  constructor(
    private readonly db: Database.Database,
    private readonly clock: () => Date,
  ) {
    this.statements = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      savepoint: db.prepare('SAVEPOINT unit'),
      release: db.prepare('RELEASE unit'),
      rollbackToSavepoint: db.prepare('ROLLBACK TO unit'),
      // The rowid is given (see nextRowid); a tombstoned message_id is not stored again.
      insert: db.prepare(
        `INSERT INTO messages (rowid, message_id, from_msisdn, to_msisdn, ts, ts_key, text,
           source, type, contact_name, phone_number_id, payload, created_at)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
         WHERE NOT EXISTS (SELECT 1 FROM tombstones WHERE message_id = ?)
         ON CONFLICT (message_id) DO NOTHING`,
      ),
      // Above every rowid ever used, deleted ones included (migration 9). Read inside each
      // write transaction: another process (inlet import) may have written since.
      nextRowid: db
        .prepare('SELECT max(max_rowid, coalesce((SELECT max(rowid) FROM messages), 0)) + 1 FROM store_meta')
        .pluck(),
      // Once per (message, status); a new one moves the current status only forward.
      insertStatus: db.prepare(
        `INSERT INTO message_statuses (message_id, status, ts, recipient_id, errors, received_at)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_id, status) DO NOTHING`,
      ),
      // The feed, in the batch's transaction: the single writer makes seq the commit order.
      addEvent: db.prepare(
        'INSERT INTO events (type, message_id, status, created_at, reason) VALUES (?, ?, ?, ?, ?)',
      ),
      moveCurrentStatus: db.prepare(
        `INSERT INTO status_current (message_id, status, rank, updated_at, updated_key, recipient_id)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (message_id) DO UPDATE SET status = excluded.status, rank = excluded.rank,
           updated_at = excluded.updated_at, updated_key = excluded.updated_key,
           recipient_id = excluded.recipient_id
         WHERE excluded.rank > status_current.rank`,
      ),
      countSender: db
        .prepare(
          `INSERT INTO sender_counts (from_msisdn, count) VALUES (?, ?)
           ON CONFLICT (from_msisdn) DO UPDATE SET count = count + excluded.count RETURNING count`,
        )
        .pluck(),
      // SET expressions all see the row as it was, so each CASE compares with the old bounds.
      addToTotals: db.prepare(
        `UPDATE message_totals SET
           total = total + @added,
           senders = senders + @newSenders,
           first_key = CASE WHEN first_key IS NULL OR (@firstKey, @firstId) < (first_key, first_id) THEN @firstKey ELSE first_key END,
           first_id  = CASE WHEN first_key IS NULL OR (@firstKey, @firstId) < (first_key, first_id) THEN @firstId  ELSE first_id  END,
           first_ts  = CASE WHEN first_key IS NULL OR (@firstKey, @firstId) < (first_key, first_id) THEN @firstTs  ELSE first_ts  END,
           last_key  = CASE WHEN last_key  IS NULL OR (@lastKey, @lastId) > (last_key, last_id) THEN @lastKey ELSE last_key END,
           last_id   = CASE WHEN last_key  IS NULL OR (@lastKey, @lastId) > (last_key, last_id) THEN @lastId  ELSE last_id  END,
           last_ts   = CASE WHEN last_key  IS NULL OR (@lastKey, @lastId) > (last_key, last_id) THEN @lastTs  ELSE last_ts  END
         WHERE id = 1`,
      ),
      // Deletions: the rows a target names (for an erasure, the sender index's, then the
      // tail's), then each row and everything derived from it.
      oneRow: db.prepare(
        'SELECT rowid AS row, message_id, from_msisdn, ts_key, text IS NOT NULL AS has_text FROM messages WHERE message_id = ?',
      ),
      senderIndexedRows: db.prepare(
        `SELECT s.row, s.message_id, s.from_msisdn, s.ts_key, m.text IS NOT NULL AS has_text
         FROM sender_index AS s JOIN messages AS m ON m.rowid = s.row WHERE s.from_msisdn = ? LIMIT ?`,
      ),
      senderTailRows: db.prepare(
        `SELECT rowid AS row, message_id, from_msisdn, ts_key, text IS NOT NULL AS has_text
         FROM messages WHERE rowid > ? AND from_msisdn = ? LIMIT ?`,
      ),
      oldestRows: db.prepare(
        `SELECT rowid AS row, message_id, from_msisdn, ts_key, text IS NOT NULL AS has_text
         FROM messages INDEXED BY messages_by_time WHERE ts_key < ? ORDER BY ts_key, message_id LIMIT ?`,
      ),
      deleteRow: db.prepare('DELETE FROM messages WHERE rowid = ?'),
      unindexSender: db.prepare(
        'DELETE FROM sender_index WHERE from_msisdn = ? AND ts_key = ? AND message_id = ?',
      ),
      purgeFromSearch: db.prepare('INSERT INTO search_purge (row) VALUES (?)'),
      forgetPurged: db.prepare('DELETE FROM search_purge WHERE seq <= ?'),
      bury: db.prepare(
        'INSERT INTO tombstones (message_id, deleted_day) VALUES (?, ?) ON CONFLICT (message_id) DO NOTHING',
      ),
      pruneTombstones: db.prepare('DELETE FROM tombstones WHERE deleted_day < ?'),
      uncountSender: db
        .prepare('UPDATE sender_counts SET count = count - ? WHERE from_msisdn = ? RETURNING count')
        .pluck(),
      dropSender: db.prepare('DELETE FROM sender_counts WHERE from_msisdn = ?'),
      subtractTotals: db.prepare(
        'UPDATE message_totals SET total = total - ?, senders = senders - ? WHERE id = 1',
      ),
      // After a deletion the ends are read again from the ordering index: two seeks.
      setEnds: db.prepare(
        `UPDATE message_totals SET
           (first_key, first_id, first_ts) = (SELECT ts_key, message_id, ts FROM messages INDEXED BY messages_by_time
             ORDER BY ts_key, message_id LIMIT 1),
           (last_key, last_id, last_ts) = (SELECT ts_key, message_id, ts FROM messages INDEXED BY messages_by_time
             ORDER BY ts_key DESC, message_id DESC LIMIT 1)
         WHERE id = 1`,
      ),
      noteDeletion: db.prepare(
        `UPDATE store_meta SET deletions = deletions + 1,
           max_rowid = max(max_rowid, coalesce((SELECT max(rowid) FROM messages), 0)) WHERE id = 1`,
      ),
      schemaVersion: db.prepare('SELECT MAX(version) FROM schema_migrations').pluck(),
      probeInsert: db.prepare('INSERT INTO write_probe (filler) VALUES (zeroblob(?))'),
      probeDelete: db.prepare('DELETE FROM write_probe'),
      maxRowid: db.prepare('SELECT MAX(rowid) FROM messages').pluck(),
      indexSenders: db.prepare(
        `INSERT INTO sender_index (from_msisdn, ts_key, message_id, row)
         SELECT from_msisdn, ts_key, message_id, rowid FROM messages WHERE rowid > ? AND rowid <= ?`,
      ),
      saveIndexProgress: db.prepare('UPDATE index_progress SET indexed_rowid = ? WHERE id = 1'),
    }
    this.indexedUpTo = db.prepare('SELECT indexed_rowid FROM index_progress').pluck().get() as number
  }

  /**
   * Writes a batch of units in one transaction and returns each unit's outcomes. A unit
   * that fails on its own (a constraint) gets its error, and only its rows are undone (a
   * savepoint, when it has more than one row: a failed statement undoes itself); the other
   * units still commit. Throws when the transaction as a whole cannot commit.
   */
  commit(units: InsertUnit[]): UnitOutcome[] {
    const s = this.statements
    let rowid: number
    try {
      s.begin.run()
      rowid = s.nextRowid.get() as number
    } catch (error) {
      if (this.db.inTransaction) s.rollback.run()
      throw this.failed(error)
    }
    const receivedAt = this.clock().toISOString()
    const created: InsertRow[] = []
    const outcomes: UnitOutcome[] = []
    for (const unit of units) {
      const guarded = unit.messages.length + unit.statuses.length > 1
      try {
        if (guarded) s.savepoint.run()
        const messages = unit.messages.map((row) => {
          if (s.insert.run(rowid, ...row, receivedAt, row[ID]).changes === 0) return 0
          rowid += 1
          s.addEvent.run('message.created', row[ID], null, receivedAt, null)
          return 1
        })
        const statuses = unit.statuses.map(([messageId, status, ts, recipientId, errors]) => {
          if (s.insertStatus.run(messageId, status, ts, recipientId, errors, receivedAt).changes === 0)
            return 0
          const rank = statusRank(status as MessageStatus)
          const moved = s.moveCurrentStatus.run(
            messageId,
            status,
            rank,
            ts,
            timestampSortKey(ts),
            recipientId,
          )
          if (moved.changes === 1) s.addEvent.run('status.updated', messageId, status, receivedAt, null)
          return 1
        })
        if (guarded) s.release.run()
        unit.messages.forEach((row, i) => {
          if (messages[i] === 1) created.push(row)
        })
        outcomes.push({ messages, statuses })
      } catch (error) {
        if (!isRowError(error) || !this.db.inTransaction) {
          if (this.db.inTransaction) s.rollback.run()
          throw this.failed(error)
        }
        if (guarded) {
          s.rollbackToSavepoint.run()
          s.release.run()
        }
        outcomes.push(describeError(error))
      }
    }
    try {
      this.updateCounters(created)
      s.commit.run()
    } catch (error) {
      if (this.db.inTransaction) s.rollback.run()
      throw this.failed(error)
    }
    this.transactions += 1
    this.writesFailing = false
    return outcomes
  }

  /** Marks writes as failing when the storage (not a row) is at fault; returns the error. */
  private failed(error: unknown): unknown {
    if (!isRowError(error)) this.writesFailing = true
    return error
  }

  /** Adds the rows a batch created to the counters, inside the batch's transaction. */
  private updateCounters(created: InsertRow[]): void {
    if (created.length === 0) return
    const perSender = new Map<string, number>()
    let first = created[0] as InsertRow
    let last = first
    for (const row of created) {
      perSender.set(row[FROM], (perSender.get(row[FROM]) ?? 0) + 1)
      if (compareOrder(row, first) < 0) first = row
      if (compareOrder(row, last) > 0) last = row
    }
    let newSenders = 0
    for (const [from, added] of perSender) {
      if (this.statements.countSender.get(from, added) === added) newSenders += 1
    }
    this.statements.addToTotals.run({
      added: created.length,
      newSenders,
      firstKey: first[TS_KEY],
      firstId: first[ID],
      firstTs: first[TS],
      lastKey: last[TS_KEY],
      lastId: last[ID],
      lastTs: last[TS],
    })
  }

  /**
   * Deletes the rows a target names (an erasure: at most `limit` of them, the caller repeats
   * until none are left) in one transaction: each row with its sender-index entry, a
   * message.deleted event, a tombstone (not for retention: see README) and, when it had
   * text, a note for the search index's upkeep; then the counters and the first and last
   * message. Returns how many it deleted.
   */
  delete(target: DeletionTarget): number {
    const s = this.statements
    let deleted = 0
    this.db
      .transaction(() => {
        const rows = this.rowsOf(target)
        if (rows.length === 0) return
        s.noteDeletion.run() // before the deletes: it records the highest rowid in use
        const now = this.clock()
        const day = Math.floor(now.getTime() / DAY_MS)
        const at = now.toISOString()
        const perSender = new Map<string, number>()
        for (const row of rows) {
          s.deleteRow.run(row.row)
          s.unindexSender.run(row.from_msisdn, row.ts_key, row.message_id)
          if (row.has_text === 1) s.purgeFromSearch.run(row.row)
          if (target.reason !== 'retention') s.bury.run(row.message_id, day)
          s.addEvent.run('message.deleted', row.message_id, null, at, target.reason)
          perSender.set(row.from_msisdn, (perSender.get(row.from_msisdn) ?? 0) + 1)
        }
        let goneSenders = 0
        for (const [from, count] of perSender) {
          if (s.uncountSender.get(count, from) === 0) {
            s.dropSender.run(from)
            goneSenders += 1
          }
        }
        s.subtractTotals.run(rows.length, goneSenders)
        s.setEnds.run()
        deleted = rows.length
      })
      .immediate()
    this.writesFailing = false
    return deleted
  }

  private rowsOf(target: DeletionTarget): DeletedRow[] {
    const s = this.statements
    switch (target.reason) {
      case 'single': {
        const row = s.oneRow.get(target.messageId) as DeletedRow | undefined
        return row === undefined ? [] : [row]
      }
      case 'erasure': {
        const indexed = s.senderIndexedRows.all(target.from, target.limit) as DeletedRow[]
        if (indexed.length === target.limit) return indexed
        const tail = s.senderTailRows.all(this.indexedUpTo, target.from, target.limit - indexed.length)
        return [...indexed, ...(tail as DeletedRow[])]
      }
      case 'retention':
        return s.oldestRows.all(target.beforeKey, target.limit) as DeletedRow[]
    }
  }

  /** The search index has dropped the deleted rows up to this note: forget them (search_purge). */
  forgetPurged(upTo: number): void {
    withoutFsync(this.db, () => this.statements.forgetPurged.run(upTo))
  }

  /** Forgets tombstones of deletions made before the day of `before`; returns how many. */
  pruneTombstones(before: Date): number {
    const day = Math.floor(before.getTime() / DAY_MS)
    return this.db.transaction(() => this.statements.pruneTombstones.run(day).changes).immediate()
  }

  /** Rows committed but not yet in the sender index. */
  unindexedRows(): number {
    return Math.max(0, ((this.statements.maxRowid.get() as number | null) ?? 0) - this.indexedUpTo)
  }

  /**
   * Adds at most `maxRows` committed rows to the sender index, in one transaction with the
   * progress mark, and returns how many it added. This transaction does not fsync
   * (synchronous=NORMAL): losing it in a crash loses no message, only work that is redone
   * from the mark, and the next batch's COMMIT fsyncs it anyway. (The search index is the
   * upkeep thread's: upkeep-thread.ts.)
   */
  indexPending(maxRows: number): number {
    const latest = (this.statements.maxRowid.get() as number | null) ?? 0
    const from = this.indexedUpTo
    if (latest <= from) return 0
    const upTo = Math.min(latest, from + maxRows)
    withoutFsync(this.db, () => {
      this.statements.indexSenders.run(from, upTo)
      this.statements.saveIndexProgress.run(upTo)
    })
    this.indexedUpTo = upTo
    return upTo - from
  }

  /** Recomputes the counters and the sender index, after a bulk load that bypassed the store. */
  rebuild(): void {
    this.db.transaction(() => this.db.exec(REBUILD_COUNTERS_SQL)).immediate()
    while (this.indexPending(50_000) > 0);
  }

  /**
   * The database answers, and (after a write failed for want of storage) takes a real write
   * again: a row that needs new pages, committed, then deleted. So readiness comes back by
   * itself when space does.
   */
  health(): { database: boolean; schemaVersion: number | null } {
    try {
      const schemaVersion = this.statements.schemaVersion.get() as number | null
      if (this.writesFailing) this.probeWrite()
      return { database: !this.writesFailing, schemaVersion }
    } catch {
      return { database: false, schemaVersion: null }
    }
  }

  private probeWrite(): void {
    try {
      this.db.transaction(() => this.statements.probeInsert.run(WRITE_PROBE_BYTES)).immediate()
      this.db.transaction(() => this.statements.probeDelete.run()).immediate()
      this.writesFailing = false
    } catch {
      // Still failing; the next probe tries again.
    }
  }
}
