import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { foldCase } from '../../domain/text-search.js'
import { timestampSortKey } from '../../domain/timestamp.js'
import { StorageUnavailableError } from '../../errors.js'
import { InsertQueue, type PendingInsert } from '../insert-queue.js'
import type {
  InsertOutcome,
  Message,
  MessagePage,
  MessageQuery,
  MessageStore,
  Stats,
  StoreHealth,
} from '../message-store.js'
import { CountCache } from './count-cache.js'
import { MIGRATIONS, REBUILD_COUNTERS_SQL, SCHEMA_VERSION } from './migrations.js'
import { chooseSearchPlan } from './search-plan.js'

export interface SqliteStoreOptions {
  file: string
  /** How long a write waits for a lock held by another process. */
  busyTimeoutMs?: number
  /** Most rows written by one transaction. */
  maxBatchRows?: number
  /** How often the background checkpointer copies the WAL into the database file. */
  checkpointIntervalMs?: number
  clock?: () => Date
}

interface MessageRow {
  message_id: string
  from_msisdn: string
  to_msisdn: string
  ts: string
  ts_key: string
  text: string | null
}

/** The contract's order: instant, then message_id in UTF-8 byte order. */
function compareOrder(a: PendingInsert, b: PendingInsert): number {
  if (a.tsKey !== b.tsKey) return a.tsKey < b.tsKey ? -1 : 1 // ASCII keys: code units are bytes
  return Buffer.compare(Buffer.from(a.message.message_id), Buffer.from(b.message.message_id))
}

const toMessage = (row: MessageRow): Message => ({
  message_id: row.message_id,
  from: row.from_msisdn,
  to: row.to_msisdn,
  ts: row.ts,
  text: row.text,
})

const require = createRequire(import.meta.url)

/** The trigram index answers queries of at least this many code points. */
const TRIGRAM = 3
/** Makes SQLite walk the ordering index, whose order is the page's. */
const ORDERED_WALK = 'INDEXED BY messages_by_time'
/** Filtered counts remembered (count-cache.ts), and how many new rows a remembered one is brought up to date over before it is counted afresh. */
const COUNT_CACHE_ENTRIES = 256
const COUNT_UPDATE_MAX_ROWS = 20_000
/** How long after a commit new rows are indexed for search and by sender, and how many at a time. */
const INDEX_DELAY_MS = 25
const INDEX_CHUNK_ROWS = 1000

/** The readiness probe's row: bigger than a page, so it needs pages of its own. */
const WRITE_PROBE_BYTES = 16 * 1024
/** WAL pages (4 KiB each) after which a COMMIT checkpoints by itself: 64 MiB. */
const BACKSTOP_CHECKPOINT_PAGES = 16384

/**
 * The background checkpointer, run in a worker thread with its own connection so that
 * copying the WAL back into the database file (and that fsync) never blocks the event loop
 * that acknowledges webhooks. In WAL mode a PASSIVE checkpoint runs alongside the writer
 * without taking its lock. Plain JavaScript evaluated in the worker, so that it runs the
 * same from compiled output and from source.
 */
const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
// On Linux this lowers the priority of this thread only: checkpoints use spare CPU
// instead of taking time slices from the thread that answers requests.
try { require('node:os').setPriority(19) } catch {}
const db = new Database(workerData.file)
db.pragma('synchronous = FULL')
db.pragma('busy_timeout = 1000')
// A busy or failing checkpoint is simply retried at the next tick: the WAL keeps every commit.
const checkpoint = () => { try { db.pragma('wal_checkpoint(PASSIVE)') } catch {} }
const timer = setInterval(checkpoint, workerData.intervalMs)
parentPort.on('message', () => {
  clearInterval(timer)
  checkpoint()
  db.close()
  parentPort.close()
})
`

/**
 * Constraint failures are the row's own fault; everything else (disk full, read-only
 * file, I/O error, a lock held elsewhere) means the database cannot take writes now.
 */
function toStoreError(error: unknown): unknown {
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT')) return error
  return new StorageUnavailableError({ cause: error })
}

/**
 * The embedded SQLite adapter.
 *
 * Writes use group commit: inserts requested during one event-loop turn are queued and
 * written by a single transaction at the next turn (`setImmediate`), so one fsync covers
 * them all. better-sqlite3 is synchronous, so requests that arrive while a commit runs
 * simply form the next batch. Each caller's promise settles only after the COMMIT that
 * holds its row has returned (synchronous=FULL in WAL mode: the WAL is fsynced first).
 */
export class SqliteMessageStore implements MessageStore {
  private readonly db: Database.Database
  private readonly clock: () => Date
  /** Transactions and rows committed by group commit (tests read it to see batching). */
  readonly commits = { transactions: 0, rows: 0 }
  private readonly inserts: InsertQueue
  private readonly statements
  private readonly checkpointer: Worker
  private readonly listStatements = new Map<string, Database.Statement>()
  /** messages.rowid up to which the search and sender indexes are complete (index_progress). */
  private indexedUpTo = 0
  private indexTimer: NodeJS.Timeout | undefined
  private readonly counts = new CountCache(COUNT_CACHE_ENTRIES)
  /** Set when a write failed for want of storage, cleared by the next write that commits. */
  private writesFailing = false
  /** Runs reads in one deferred transaction: every statement sees the same committed rows. */
  private readonly snapshot: <T>(run: () => T) => T

  constructor(options: SqliteStoreOptions) {
    mkdirSync(path.dirname(options.file), { recursive: true })
    this.db = new Database(options.file)
    this.inserts = new InsertQueue(options.maxBatchRows ?? 512, (batch) => this.commitBatch(batch))
    this.clock = options.clock ?? (() => new Date())
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = FULL')
    this.db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`)
    // Checkpoints run in a worker (below), not inside a COMMIT on the ack path. SQLite's own
    // checkpoint stays as a backstop, far away, in case the worker falls behind.
    this.db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`)

    this.db.function('inlet_fold', { deterministic: true }, (text: unknown) =>
      typeof text === 'string' ? foldCase(text) : null,
    )
    this.migrate()
    this.snapshot = this.db.transaction((run) => run()) as <T>(run: () => T) => T
    this.statements = {
      begin: this.db.prepare('BEGIN IMMEDIATE'),
      commit: this.db.prepare('COMMIT'),
      rollback: this.db.prepare('ROLLBACK'),
      insert: this.db.prepare(
        `INSERT INTO messages (message_id, from_msisdn, to_msisdn, ts, ts_key, text, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`,
      ),
      countSender: this.db
        .prepare(
          `INSERT INTO sender_counts (from_msisdn, count) VALUES (?, ?)
           ON CONFLICT (from_msisdn) DO UPDATE SET count = count + excluded.count RETURNING count`,
        )
        .pluck(),
      // SET expressions all see the row as it was, so each CASE compares with the old bounds.
      addToTotals: this.db.prepare(
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
      totals: this.db.prepare('SELECT total, senders, first_ts, last_ts FROM message_totals WHERE id = 1'),
      total: this.db.prepare('SELECT total FROM message_totals WHERE id = 1').pluck(),
      // A scan of one row per sender, not per message.
      topSenders: this.db.prepare(
        `SELECT from_msisdn AS "from", count FROM sender_counts ORDER BY count DESC, from_msisdn ASC LIMIT 10`,
      ),
      schemaVersion: this.db.prepare('SELECT MAX(version) FROM schema_migrations').pluck(),
      probeInsert: this.db.prepare('INSERT INTO write_probe (filler) VALUES (zeroblob(?))'),
      probeDelete: this.db.prepare('DELETE FROM write_probe'),
      maxRowid: this.db.prepare('SELECT MAX(rowid) FROM messages').pluck(),
      indexSearch: this.db.prepare(
        `INSERT INTO messages_search (rowid, body)
         SELECT rowid, inlet_fold(text) FROM messages WHERE rowid > ? AND rowid <= ? AND text IS NOT NULL`,
      ),
      indexSenders: this.db.prepare(
        `INSERT INTO sender_index (from_msisdn, ts_key, message_id)
         SELECT from_msisdn, ts_key, message_id FROM messages WHERE rowid > ? AND rowid <= ?`,
      ),
      saveIndexProgress: this.db.prepare('UPDATE index_progress SET indexed_rowid = ? WHERE id = 1'),
      senderCount: this.db.prepare('SELECT count FROM sender_counts WHERE from_msisdn = ?').pluck(),
      searchCount: this.db
        .prepare('SELECT COUNT(*) FROM messages_search WHERE messages_search MATCH ?')
        .pluck(),
    }
    this.indexedUpTo = this.db.prepare('SELECT indexed_rowid FROM index_progress').pluck().get() as number
    this.scheduleIndexing() // rows from before the indexes existed, or from a bulk load
    this.checkpointer = new Worker(CHECKPOINTER_SOURCE, {
      eval: true,
      // It allocates almost nothing: a small heap keeps the process's memory down.
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
      workerData: {
        driver: require.resolve('better-sqlite3'),
        file: options.file,
        intervalMs: options.checkpointIntervalMs ?? 1000,
      },
    })
    this.checkpointer.unref()
    // Without the worker, fall back to SQLite's own checkpoints so the WAL cannot grow forever.
    this.checkpointer.on('error', () => {
      if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000')
    })
  }

  private migrate(): void {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)',
    )
    const applied = new Set(
      this.db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[],
    )
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue
      this.db
        .transaction(() => {
          this.db.exec(migration.sql)
          this.db
            .prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)')
            .run(migration.version, this.clock().toISOString())
        })
        .immediate()
    }
  }

  insert(message: Message): Promise<InsertOutcome> {
    return this.inserts.push(message)
  }

  /**
   * Writes a batch in one transaction. A row that fails on its own is answered with its
   * error and its neighbours still commit; if that failure aborted the transaction, the
   * batch is retried without the row.
   */
  private commitBatch(batch: PendingInsert[]): void {
    const { begin, commit, rollback, insert } = this.statements
    let rows = batch
    while (rows.length > 0) {
      const outcomes: (InsertOutcome | unknown)[] = new Array(rows.length)
      try {
        begin.run()
      } catch (error) {
        this.rejectAll(rows, error)
        return
      }
      let abortedAt = -1
      const createdAt = this.clock().toISOString()
      for (let i = 0; i < rows.length; i++) {
        const { message: m, tsKey } = rows[i] as PendingInsert
        try {
          const result = insert.run(m.message_id, m.from, m.to, m.ts, tsKey, m.text, createdAt)
          outcomes[i] = result.changes === 1 ? 'created' : 'duplicate'
        } catch (error) {
          outcomes[i] = { error }
          if (!this.db.inTransaction) {
            abortedAt = i
            break
          }
        }
      }
      if (abortedAt >= 0) {
        this.rejectAll([rows[abortedAt] as PendingInsert], (outcomes[abortedAt] as { error: unknown }).error)
        rows = rows.filter((_, i) => i !== abortedAt)
        continue
      }
      const created = rows.filter((_, i) => outcomes[i] === 'created')
      try {
        this.updateCounters(created)
        commit.run()
      } catch (error) {
        if (this.db.inTransaction) rollback.run()
        this.rejectAll(rows, error)
        return
      }
      this.commits.transactions += 1
      this.commits.rows += rows.length
      if (created.length > 0) this.scheduleIndexing()
      this.writesFailing = false
      for (let i = 0; i < rows.length; i++) {
        const outcome = outcomes[i]
        const row = rows[i] as PendingInsert
        if (typeof outcome === 'string') row.resolve(outcome as InsertOutcome)
        else this.rejectAll([row], (outcome as { error: unknown }).error)
      }
      return
    }
  }

  /** Answers the rows with the error; one that says the storage failed marks writes as failing. */
  private rejectAll(rows: PendingInsert[], error: unknown): void {
    const mapped = toStoreError(error)
    if (mapped instanceof StorageUnavailableError) this.writesFailing = true
    for (const row of rows) row.reject(mapped)
  }

  /** Adds the rows a batch created to the counters, inside the batch's transaction. */
  private updateCounters(created: PendingInsert[]): void {
    if (created.length === 0) return
    const perSender = new Map<string, number>()
    let first = created[0] as PendingInsert
    let last = first
    for (const row of created) {
      perSender.set(row.message.from, (perSender.get(row.message.from) ?? 0) + 1)
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
      firstKey: first.tsKey,
      firstId: first.message.message_id,
      firstTs: first.message.ts,
      lastKey: last.tsKey,
      lastId: last.message.message_id,
      lastTs: last.message.ts,
    })
  }

  /** Recomputes the counters from the messages, after a bulk load that bypassed insert(). */
  rebuildDerived(): void {
    this.db.transaction(() => this.db.exec(REBUILD_COUNTERS_SQL)).immediate()
    this.indexPending(Number.POSITIVE_INFINITY)
  }

  async list(query: MessageQuery): Promise<MessagePage> {
    const folded = query.q === undefined ? undefined : foldCase(query.q)
    const searches = folded !== undefined && [...folded].length >= TRIGRAM
    const bySender = query.from !== undefined && query.q === undefined
    return this.read(() => {
      // Read-your-writes: index what has committed, before the read's snapshot begins.
      const indexed = (searches || bySender) && this.catchUpIndexes()
      return this.snapshot(() =>
        bySender && indexed
          ? this.listBySender(query)
          : this.listFiltered(query, folded, searches && indexed),
      )
    })
  }

  /**
   * Indexes every committed row; false when that cannot be written (disk full, a lock held
   * elsewhere). The read then tests the rows of the table itself: slower, just as exact.
   */
  private catchUpIndexes(): boolean {
    try {
      this.indexPending(Number.POSITIVE_INFINITY)
      return true
    } catch (error) {
      if (toStoreError(error) instanceof StorageUnavailableError) return false
      throw error
    }
  }

  /** Any filters but `from` alone: by search index when q is long enough, else by the time index. */
  private listFiltered(query: MessageQuery, folded: string | undefined, searches: boolean): MessagePage {
    const filters: string[] = []
    const params: unknown[] = []
    if (query.from !== undefined) {
      filters.push('from_msisdn = ?')
      params.push(query.from)
    }
    if (query.since !== undefined) {
      filters.push('ts_key >= ?')
      params.push(timestampSortKey(query.since))
    }
    // The contract's test of q on one row; the search index answers the same for 3+ characters.
    const rowTest = folded === undefined ? filters : [...filters, 'instr(inlet_fold(text), ?) > 0']
    const rowParams = folded === undefined ? params : [...params, folded]
    if (folded === undefined || !searches) {
      // No search, or one shorter than a trigram: the index cannot answer, so the same test
      // runs on every row (the count is remembered, see exactCount).
      const total =
        rowTest.length === 0
          ? this.totalRows() // the counter: no COUNT(*) over the whole table
          : this.exactCount(`SELECT COUNT(*) FROM messages WHERE ${rowTest.join(' AND ')}`, rowParams, {
              where: rowTest,
              params: rowParams,
            })
      return this.filteredPage(rowTest, rowParams, query, total)
    }

    const match = `"${folded.replaceAll('"', '""')}"`
    const inIndex = 'rowid IN (SELECT rowid FROM messages_search WHERE messages_search MATCH ?)'
    const total = this.exactCount(
      filters.length === 0
        ? 'SELECT COUNT(*) FROM messages_search WHERE messages_search MATCH ?'
        : `SELECT COUNT(*) FROM messages WHERE ${[...filters, inIndex].join(' AND ')}`,
      [...params, match],
      { where: rowTest, params: rowParams },
    )
    if (total === 0) return { data: [], total }
    switch (chooseSearchPlan(total, this.totalRows(), query.offset + query.limit)) {
      case 'test-each-row':
        return this.filteredPage(rowTest, rowParams, query, total, ORDERED_WALK)
      case 'walk-match-set':
        return this.filteredPage([...filters, inIndex], [...params, match], query, total, ORDERED_WALK)
      case 'sort-matches':
        return this.filteredPage([...filters, inIndex], [...params, match], query, total)
    }
  }

  /** A page of the rows that pass `filters`, in the contract's order, from the cursor on. */
  private filteredPage(
    filters: string[],
    params: unknown[],
    query: MessageQuery,
    total: number,
    indexHint = '',
  ): MessagePage {
    if (total === 0) return { data: [], total }
    let pageFilters = filters
    let pageParams = params
    if (query.after !== undefined) {
      // A row-value comparison on the (ts_key, message_id) index: a page deep in the table
      // costs the same as the first.
      pageFilters = [...pageFilters, '(ts_key, message_id) > (?, ?)']
      pageParams = [...pageParams, query.after.key, query.after.messageId]
    }
    const where = pageFilters.length > 0 ? `WHERE ${pageFilters.join(' AND ')}` : ''
    return this.page(
      `SELECT message_id, from_msisdn, to_msisdn, ts, ts_key, text FROM messages ${indexHint} ${where}
       ORDER BY ts_key ASC, message_id ASC LIMIT ? OFFSET ?`,
      pageParams,
      query,
      total,
    )
  }

  /**
   * `from` (and `since`) without `q`: the sender index gives the rows in order and the
   * counters give the total, so a sender's page costs the same however rare the sender.
   */
  private listBySender(query: MessageQuery): MessagePage {
    const since = query.since === undefined ? undefined : timestampSortKey(query.since)
    const total =
      since === undefined
        ? ((this.statements.senderCount.get(query.from) ?? 0) as number)
        : this.exactCount(
            'SELECT COUNT(*) FROM sender_index WHERE from_msisdn = ? AND ts_key >= ?',
            [query.from, since],
            { where: ['from_msisdn = ?', 'ts_key >= ?'], params: [query.from, since] },
          )
    if (total === 0) return { data: [], total }
    const filters = ['s.from_msisdn = ?']
    const params: unknown[] = [query.from]
    if (since !== undefined) {
      filters.push('s.ts_key >= ?')
      params.push(since)
    }
    if (query.after !== undefined) {
      filters.push('(s.ts_key, s.message_id) > (?, ?)')
      params.push(query.after.key, query.after.messageId)
    }
    return this.page(
      `SELECT m.message_id, m.from_msisdn, m.to_msisdn, m.ts, m.ts_key, m.text
       FROM sender_index AS s JOIN messages AS m ON m.message_id = s.message_id
       WHERE ${filters.join(' AND ')} ORDER BY s.ts_key ASC, s.message_id ASC LIMIT ? OFFSET ?`,
      params,
      query,
      total,
    )
  }

  /**
   * The number of messages that pass a filter. `countSql` counts them from scratch; `rows`
   * is the same filter as a test of one row, used to bring a remembered count up to date by
   * looking only at the rows written since. Runs inside the read's snapshot (see read()), so
   * the latest rowid and the count describe the same rows.
   */
  private exactCount(
    countSql: string,
    params: unknown[],
    rows: { where: string[]; params: unknown[] },
  ): number {
    const upTo = (this.statements.maxRowid.get() as number | null) ?? 0
    const key = `${countSql}\0${JSON.stringify(params)}`
    const known = this.counts.get(key)
    let count: number
    if (known !== undefined && upTo >= known.upTo && upTo - known.upTo <= COUNT_UPDATE_MAX_ROWS) {
      count =
        upTo === known.upTo
          ? known.count
          : known.count +
            (this.cached(
              `SELECT COUNT(*) FROM messages WHERE rowid > ? AND rowid <= ? AND ${rows.where.join(' AND ')}`,
            )
              .pluck()
              .get(known.upTo, upTo, ...rows.params) as number)
    } else {
      count = this.cached(countSql)
        .pluck()
        .get(...params) as number
    }
    this.counts.set(key, { count, upTo })
    return count
  }

  /** Runs a page query for one row more than asked, which tells whether a next page exists. */
  private page(sql: string, params: unknown[], query: MessageQuery, total: number): MessagePage {
    const rows = this.cached(sql).all(...params, query.limit + 1, query.offset) as MessageRow[]
    const more = rows.length > query.limit
    if (more) rows.pop()
    const last = rows.at(-1)
    return {
      data: rows.map(toMessage),
      total,
      ...(more && last ? { next: { key: last.ts_key, messageId: last.message_id } } : {}),
    }
  }

  private totalRows(): number {
    return this.statements.total.get() as number
  }

  /** Statements for the few shapes of list query, prepared once each. */
  private cached(sql: string): Database.Statement {
    let statement = this.listStatements.get(sql)
    if (statement === undefined) {
      statement = this.db.prepare(sql)
      this.listStatements.set(sql, statement)
    }
    return statement
  }

  /**
   * Adds committed rows that the search and sender indexes have not seen, at most `maxRows`
   * of them, in one transaction with the progress mark. Returns whether rows remain.
   */
  private indexPending(maxRows: number): boolean {
    const latest = (this.statements.maxRowid.get() as number | null) ?? 0
    const from = this.indexedUpTo
    if (latest <= from) return false
    const upTo = Math.min(latest, from + maxRows)
    this.db
      .transaction(() => {
        this.statements.indexSearch.run(from, upTo)
        this.statements.indexSenders.run(from, upTo)
        this.statements.saveIndexProgress.run(upTo)
      })
      .immediate()
    this.indexedUpTo = upTo
    return upTo < latest
  }

  /** Indexes new rows shortly after they commit, in bounded chunks, off the ack path. */
  private scheduleIndexing(): void {
    if (this.indexTimer !== undefined) return
    this.indexTimer = setTimeout(this.runIndexing, INDEX_DELAY_MS)
    this.indexTimer.unref()
  }

  private readonly runIndexing = (): void => {
    this.indexTimer = undefined
    if (!this.db.open) return
    try {
      if (this.indexPending(INDEX_CHUNK_ROWS)) this.scheduleIndexing()
    } catch {
      // Busy or failing: try again later; a query that needs the indexes catches up itself.
      this.scheduleIndexing()
    }
  }

  async stats(): Promise<Stats> {
    const s = this.statements
    return this.read(() =>
      this.snapshot(() => {
        const totals = s.totals.get() as {
          total: number
          senders: number
          first_ts: string | null
          last_ts: string | null
        }
        return {
          total_messages: totals.total,
          senders_count: totals.senders,
          messages_per_sender: s.topSenders.all() as Stats['messages_per_sender'],
          first_message_ts: totals.first_ts,
          last_message_ts: totals.last_ts,
        }
      }),
    )
  }

  /**
   * Reads answer, and writes too: after a write failed for want of storage, each probe
   * tries a real one (a row that needs new pages, committed, then deleted), so readiness
   * comes back by itself when space does.
   */
  async health(): Promise<StoreHealth> {
    try {
      const schema = this.statements.schemaVersion.get() === SCHEMA_VERSION
      if (this.writesFailing) this.probeWrite()
      return { database: !this.writesFailing, schema }
    } catch {
      return { database: false, schema: false }
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

  async close(): Promise<void> {
    this.inserts.flush()
    clearTimeout(this.indexTimer)
    if (this.checkpointer.threadId !== -1) {
      // 'exit' also follows a worker that failed, so closing never throws because of it.
      const exited = new Promise((resolve) => this.checkpointer.once('exit', resolve))
      this.checkpointer.ref() // keep the process alive until its last checkpoint is done
      this.checkpointer.postMessage('stop')
      await exited
    }
    if (this.db.open) this.db.close()
  }

  private read<T>(run: () => T): T {
    try {
      return run()
    } catch (error) {
      throw toStoreError(error)
    }
  }
}
