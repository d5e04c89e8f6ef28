import type Database from 'better-sqlite3'
import { REBUILD_COUNTERS_SQL } from './migrations.js'
import type { InsertRow, RowError, RowOutcome } from './protocol.js'

/** The readiness probe's row: bigger than a page, so it needs pages of its own. */
const WRITE_PROBE_BYTES = 16 * 1024

const ID = 0
const FROM = 1
const TS = 3
const TS_KEY = 4

/** The contract's order: instant, then message_id in UTF-8 byte order. */
function compareOrder(a: InsertRow, b: InsertRow): number {
  if (a[TS_KEY] !== b[TS_KEY]) return a[TS_KEY] < b[TS_KEY] ? -1 : 1 // ASCII keys: code units are bytes
  return Buffer.compare(Buffer.from(a[ID]), Buffer.from(b[ID]))
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
      insert: db.prepare(
        `INSERT INTO messages (message_id, from_msisdn, to_msisdn, ts, ts_key, text, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`,
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
   * Writes a batch in one transaction and returns each row's outcome. A row that fails on
   * its own gets its error and its neighbours still commit; if that failure aborted the
   * transaction, the batch is retried without the row. Throws when the transaction as a
   * whole cannot commit.
   */
  commit(batch: InsertRow[]): RowOutcome[] {
    const { begin, commit, rollback, insert } = this.statements
    const outcomes: RowOutcome[] = new Array(batch.length)
    let pending = batch.map((_, i) => i)
    while (pending.length > 0) {
      try {
        begin.run()
      } catch (error) {
        throw this.failed(error)
      }
      let abortedAt = -1
      const createdAt = this.clock().toISOString()
      const created: InsertRow[] = []
      for (const [n, i] of pending.entries()) {
        const row = batch[i] as InsertRow
        try {
          const result = insert.run(row[0], row[1], row[2], row[3], row[4], row[5], createdAt)
          outcomes[i] = result.changes === 1 ? 1 : 0
          if (result.changes === 1) created.push(row)
        } catch (error) {
          if (!isRowError(error)) {
            if (this.db.inTransaction) rollback.run()
            throw this.failed(error)
          }
          outcomes[i] = describeError(error)
          if (!this.db.inTransaction) {
            abortedAt = n
            break
          }
        }
      }
      if (abortedAt >= 0) {
        pending = pending.filter((_, n) => n !== abortedAt)
        continue
      }
      try {
        this.updateCounters(created)
        commit.run()
      } catch (error) {
        if (this.db.inTransaction) rollback.run()
        throw this.failed(error)
      }
      this.transactions += 1
      this.writesFailing = false
      return outcomes
    }
    return outcomes // every row failed on its own
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
    this.db.pragma('synchronous = NORMAL')
    try {
      this.db
        .transaction(() => {
          this.statements.indexSenders.run(from, upTo)
          this.statements.saveIndexProgress.run(upTo)
        })
        .immediate()
    } finally {
      this.db.pragma('synchronous = FULL')
    }
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
