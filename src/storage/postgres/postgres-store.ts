import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { compareUtf8 } from '../../domain/byte-order.js'
import { statusRank } from '../../domain/message-status.js'
import { foldCase } from '../../domain/text-search.js'
import {
  BUCKET_KEY_LENGTH,
  type Bucket,
  bucketKeys,
  type TimelinePoint,
  timelinePoints,
} from '../../domain/timeline.js'
import { timestampSortKey } from '../../domain/timestamp.js'
import { StorageUnavailableError } from '../../errors.js'
import { type ExportFormat, exportPage } from '../../export/formats.js'
import type {
  AttemptResult,
  Delivery,
  DeliveryBacklog,
  DeliveryQuery,
  DeliveryReads,
  DeliveryWrites,
  LeasedDelivery,
  RetryOutcome,
} from '../../forwarding/delivery-store.js'
import { CountCache } from '../count-cache.js'
import {
  CURRENT_STATUS_COLUMNS,
  type CurrentStatusRow,
  type MessageDetailRow,
  messageDetail,
  type StatusHistoryRow,
  statusDetails,
} from '../detail-rows.js'
import { assembleEvents, type EventRow, type EventStatusRow, eventSubjects } from '../feed-rows.js'
import { batchesOf, InsertQueue, messageRow, type PendingUnit } from '../insert-queue.js'
import { Listeners } from '../listeners.js'
import type {
  DeletionTarget,
  ExportPage,
  FeedEvent,
  IngestBatch,
  IngestResult,
  InsertOutcome,
  MessageDetail,
  MessagePage,
  MessageQuery,
  MessageStore,
  NewMessage,
  SenderCount,
  Stats,
  StatusDetail,
  StatusPage,
  StatusQuery,
  StoreHealth,
} from '../message-store.js'
import { ADVISORY_LOCKS } from './advisory-locks.js'
import {
  appendEventsSql,
  DELIVERY_COLUMNS,
  DISPATCH_SQL,
  EVENT_COLUMNS,
  EVENTS_CHANNEL,
  iso,
  LEASE_SQL,
  MESSAGE_DETAIL_COLUMNS,
  RECORD_SQL,
  RELEASE_SQL,
} from './feed-sql.js'
import {
  countKeyOf,
  filtersOf,
  firstCountSql,
  keptSql,
  listSql,
  type PageSource,
  PLAN_SIZES,
  type PlanSizes,
  pageSql,
  rememberedTotalSql,
  Statement,
  searchSizesSql,
  WALK_SETTINGS,
  walkPays,
} from './list-sql.js'
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js'

export interface PostgresStoreOptions {
  /** postgres:// or postgresql:// connection string. */
  url: string
  /** Most connections this process opens. */
  poolMax?: number
  /** Most rows written by one statement. */
  maxBatchRows?: number
  /**
   * How often the sender counters are folded (foldCounters), and every fourth time the search
   * index's pending entries merged (mergeSearchEntries); 0: never (default 250).
   */
  foldIntervalMs?: number
  /** Bring the schema up to date first (default); a helper thread of a process that did so skips it. */
  migrate?: boolean
  /**
   * For tests only: the naive feed (positions from a sequence, no commit-order lock) and a
   * pause before each batch's COMMIT, which widens the window in which the naive feed
   * hands out a position behind one that commits later.
   */
  feedFaults?: { naiveOrder: boolean; commitDelayMs: number }
  /** Tests: smaller sizes reach every search plan with a few hundred messages (list-sql.ts). */
  planSizes?: Partial<PlanSizes>
  /** Tests: told how each search's page was read. */
  planned?: (source: PageSource['kind']) => void
  /** How long to wait for a connection before the request fails with 503. */
  connectTimeoutMs?: number
  /** How long to wait for a query's answer before the request fails with 503. */
  queryTimeoutMs?: number
}

/** HEAD_COLUMNS (list-sql.ts) as read. */
interface HeadRow {
  head: string
  epoch: string
  messages: string
}

/** A row of listSql: the total, HEAD_COLUMNS when a count was taken, and a page row or NULLs. */
interface ListRow extends Partial<HeadRow> {
  total: string
  message_id: string | null
  from_msisdn: string
  to_msisdn: string
  ts: string
  ts_key: string
  text: string | null
}

/** The page a listSql statement read. */
function pageOf(result: ListRow[], query: MessageQuery): MessagePage {
  const rows = result.filter((row) => row.message_id !== null)
  const more = rows.length > query.limit
  if (more) rows.pop()
  const last = rows.at(-1)
  return {
    data: rows.map((row) => ({
      message_id: row.message_id as string,
      from: row.from_msisdn,
      to: row.to_msisdn,
      ts: row.ts,
      text: row.text,
    })),
    total: Number(result[0]?.total ?? 0),
    ...(more && last ? { next: { key: last.ts_key, messageId: last.message_id as string } } : {}),
  }
}

/** How long a migration (or the wait for another replica's) may take before the start fails. */
const MIGRATION_TIMEOUT_MS = 30 * 60_000
/** Counter rows per sender and for the total (see migrations.ts). */
const COUNTER_SHARDS = 16
/** The search index's pending entries are merged every this many fold intervals (mergeSearchEntries). */
const MERGE_EVERY_TICKS = 4
/** Counter rows one fold moves at most. */
const FOLD_ROWS = 1_000
/** Write batches committing at once per replica (see startBatch). */
const MAX_BATCHES_IN_FLIGHT = 4
/** Filtered totals each replica remembers (count-cache.ts), as on SQLite. */
const COUNT_CACHE_ENTRIES = 256
/** A deadlock or serialization failure is retried this many times before it is a 503. */
const RETRIES = 3

/**
 * One statement per batch: insert the rows (the first write of a message_id wins, in this
 * batch and against committed rows), their search rows (message_texts) and the ones created
 * to one counter shard. It
 * returns what it created ('m' messages, 's' statuses) and the current statuses it moved
 * ('c'), from which the batch's events are appended before the COMMIT (feed-sql.ts).
 */
const INSERT_BATCH_SQL = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
      WITH ORDINALITY AS i (message_id, from_msisdn, to_msisdn, ts, ts_key, text,
        source, type, contact_name, phone_number_id, payload, text_folded, n)
  ), inserted AS (
    INSERT INTO messages (message_id, from_msisdn, to_msisdn, ts, ts_key, text, text_folded,
      source, type, contact_name, phone_number_id, payload)
    SELECT message_id, from_msisdn, to_msisdn, ts, ts_key, text, text_folded,
      source, type, contact_name, phone_number_id, payload::json FROM input
    WHERE NOT EXISTS (SELECT 1 FROM tombstones AS t WHERE t.message_id = input.message_id)
    ORDER BY n
    ON CONFLICT (message_id) DO NOTHING
    RETURNING seq, message_id, from_msisdn, ts_key, text_folded
  ), texts AS (
    INSERT INTO message_texts (seq, from_msisdn, ts_key, text_folded)
    SELECT seq, from_msisdn, ts_key, text_folded FROM inserted WHERE text_folded IS NOT NULL
  ), senders AS (
    INSERT INTO sender_counts (from_msisdn, shard, count)
    SELECT from_msisdn, $13::smallint, count(*) FROM inserted GROUP BY from_msisdn ORDER BY from_msisdn
    ON CONFLICT (from_msisdn, shard) DO UPDATE SET count = sender_counts.count + excluded.count
  ), totals AS (
    INSERT INTO message_totals (shard, total)
    SELECT $13::smallint, count(*) FROM inserted HAVING count(*) > 0
    ON CONFLICT (shard) DO UPDATE SET total = message_totals.total + excluded.total
  ), status_input AS (
    SELECT * FROM unnest($14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::smallint[])
      WITH ORDINALITY AS s (message_id, status, ts, recipient_id, errors, rank, n)
  ), statuses AS (
    INSERT INTO message_statuses (message_id, status, ts, recipient_id, errors)
    SELECT message_id, status, ts, recipient_id, errors::json FROM status_input ORDER BY n
    ON CONFLICT (message_id, status) DO NOTHING
    RETURNING message_id, status, ts, recipient_id
  ), current AS (
    -- One row per message (an upsert may touch a row once per statement): the highest rank
    -- of those just stored, which replaces the current one only if it ranks higher.
    INSERT INTO status_current (message_id, status, rank, updated_at, updated_key, recipient_id)
    SELECT DISTINCT ON (n.message_id) n.message_id, n.status, i.rank, n.ts, left(n.ts, 19), n.recipient_id
    FROM statuses AS n JOIN status_input AS i ON i.message_id = n.message_id AND i.status = n.status
    ORDER BY n.message_id, i.rank DESC
    ON CONFLICT (message_id) DO UPDATE SET status = excluded.status, rank = excluded.rank,
      updated_at = excluded.updated_at, updated_key = excluded.updated_key, recipient_id = excluded.recipient_id
    WHERE excluded.rank > status_current.rank
    RETURNING message_id, status
  )
  SELECT 'm' AS kind, message_id, NULL AS status FROM inserted
  UNION ALL SELECT 's', message_id, status FROM statuses
  UNION ALL SELECT 'c', message_id, status FROM current`

/**
 * Deletes what a target names (and its search rows), subtracts it from one counter shard and
 * raises the deletion epoch of remembered counts, in one statement; returns the message_ids
 * deleted. $1: the condition's value, $2: the shard, $3: whether
 * to leave tombstones, $4: the row limit (erasure, retention). A row another replica
 * deletes at the same moment is deleted (and counted) by one of them only.
 */
function deleteSql(target: DeletionTarget): string {
  const rows = {
    single: 'message_id = $1',
    erasure: 'from_msisdn = $1',
    retention: 'ts_key < $1 ORDER BY ts_key, message_id',
  }[target.reason]
  return `
    WITH gone AS (
      DELETE FROM messages WHERE message_id IN (SELECT message_id FROM messages WHERE ${rows} LIMIT $4)
      RETURNING seq, message_id, from_msisdn
    ), texts AS (
      DELETE FROM message_texts WHERE seq IN (SELECT seq FROM gone)
    ), buried AS (
      INSERT INTO tombstones (message_id) SELECT message_id FROM gone WHERE $3 ORDER BY message_id
      ON CONFLICT (message_id) DO NOTHING
    ), senders AS (
      INSERT INTO sender_counts (from_msisdn, shard, count)
      SELECT from_msisdn, $2::smallint, -count(*) FROM gone GROUP BY from_msisdn ORDER BY from_msisdn
      ON CONFLICT (from_msisdn, shard) DO UPDATE SET count = sender_counts.count + excluded.count
    ), totals AS (
      INSERT INTO message_totals (shard, total)
      SELECT $2::smallint, -count(*) FROM gone HAVING count(*) > 0
      ON CONFLICT (shard) DO UPDATE SET total = message_totals.total + excluded.total
    ), epoch AS (
      UPDATE store_meta SET deletions = deletions + 1 WHERE id = 1 AND EXISTS (SELECT 1 FROM gone)
    )
    SELECT message_id FROM gone ORDER BY message_id`
}

/**
 * Everything /stats shows, read in one statement (one snapshot): the totals' shards, the
 * sender counters written since the last fold (`recent`, a few rows per sender that wrote)
 * against the folded totals, and index ends. The top 10 are among the recent senders and the
 * first 10 folded senders that are not recent (an index walk). A sender whose messages were
 * all deleted keeps rows that add up to zero, so senders are those above zero.
 */
const STATS_SQL = `
  WITH recent AS (
    SELECT from_msisdn, sum(count)::bigint AS delta FROM sender_counts GROUP BY from_msisdn
  ), moved AS (
    SELECT r.from_msisdn, coalesce(t.count, 0) AS before, coalesce(t.count, 0) + r.delta AS after
    FROM recent AS r LEFT JOIN sender_totals AS t ON t.from_msisdn = r.from_msisdn
  )
  SELECT
    (SELECT coalesce(sum(total), 0) FROM message_totals) AS total,
    (SELECT senders FROM sender_fold WHERE id = 1)
      + (SELECT count(*) FILTER (WHERE after > 0 AND before <= 0) - count(*) FILTER (WHERE before > 0 AND after <= 0)
         FROM moved) AS senders,
    (SELECT ts FROM messages ORDER BY ts_key, message_id LIMIT 1) AS first_ts,
    (SELECT ts FROM messages ORDER BY ts_key DESC, message_id DESC LIMIT 1) AS last_ts,
    (SELECT coalesce(json_agg(json_build_object('from', f, 'count', c) ORDER BY c DESC, f), '[]') FROM (
       SELECT f, c FROM (
         SELECT from_msisdn AS f, after AS c FROM moved
         UNION ALL
         SELECT * FROM (
           SELECT t.from_msisdn, t.count FROM sender_totals AS t
           WHERE NOT EXISTS (SELECT 1 FROM recent AS r WHERE r.from_msisdn = t.from_msisdn)
           ORDER BY t.count DESC, t.from_msisdn LIMIT 10
         ) AS folded
       ) AS candidates WHERE c > 0 ORDER BY c DESC, f LIMIT 10) AS top) AS top`

/**
 * Moves up to $1 counter rows into sender_totals, in one statement, keeping sender_fold.senders
 * (senders above zero) right; with nothing to move it writes nothing (an idle replica folds four
 * times a second). Rows a writer holds are skipped (SKIP LOCKED): the fold never
 * waits, so it cannot deadlock with writers, and takes them next time.
 */
const FOLD_SQL = `
  WITH picked AS (
    SELECT from_msisdn, shard FROM sender_counts ORDER BY from_msisdn, shard LIMIT $1 FOR UPDATE SKIP LOCKED
  ), taken AS (
    DELETE FROM sender_counts AS c USING picked AS p WHERE c.from_msisdn = p.from_msisdn AND c.shard = p.shard
    RETURNING c.from_msisdn, c.count
  ), summed AS (
    SELECT from_msisdn, sum(count)::bigint AS delta FROM taken GROUP BY from_msisdn
  ), folded AS (
    INSERT INTO sender_totals (from_msisdn, count) SELECT from_msisdn, delta FROM summed ORDER BY from_msisdn
    ON CONFLICT (from_msisdn) DO UPDATE SET count = sender_totals.count + excluded.count
    RETURNING from_msisdn, count
  ), signs AS (
    SELECT count(*) FILTER (WHERE f.count > 0 AND f.count - s.delta <= 0)
         - count(*) FILTER (WHERE f.count <= 0 AND f.count - s.delta > 0) AS change
    FROM folded AS f JOIN summed AS s ON s.from_msisdn = f.from_msisdn
  )
  UPDATE sender_fold SET senders = senders + (SELECT change FROM signs)
  WHERE id = 1 AND EXISTS (SELECT 1 FROM taken)
  RETURNING (SELECT count(*) FROM taken)::int AS moved`

const statusKey = (messageId: string, status: string) => `${messageId}\0${status}`

/**
 * A row's own fault (class 22 data exception, class 23 constraint) stays as it is; anything
 * else (no connection, timeout, schema missing, server shutting down) means the database
 * cannot serve now.
 */
function toStoreError(error: unknown): unknown {
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'))) return error
  return new StorageUnavailableError({ cause: error })
}

const isRetryable = (error: unknown) => {
  const code = (error as { code?: unknown }).code
  return code === '40P01' || code === '40001' // deadlock detected, serialization failure
}

/**
 * The PostgreSQL adapter: many stateless Inlet processes can share one database.
 *
 * Writes use group commit like the SQLite adapter: inserts requested during one event-loop
 * turn are written by one statement, several batches at once over the pool. Rows are sorted
 * by message_id and counters by sender inside each statement, so concurrent batches from
 * different replicas take their locks in the same order and do not deadlock.
 */
export class PostgresMessageStore implements MessageStore, DeliveryReads, DeliveryWrites {
  private readonly pool: pg.Pool
  private readonly inserts: InsertQueue
  private readonly inFlight = new Set<Promise<void>>()
  /** Units that arrived while MAX_BATCHES_IN_FLIGHT batches were committing: the next batch. */
  private waiting: PendingUnit[] = []
  private closed = false
  private readonly feedFaults: PostgresStoreOptions['feedFaults']
  private readonly appendEvents: string
  private readonly feedListeners = new Listeners()
  /** Filtered totals remembered by this replica (count-cache.ts); each replica keeps its own. */
  private readonly counts = new CountCache(COUNT_CACHE_ENTRIES)
  /** The connection that LISTENs for other replicas' commits, while anyone follows the feed. */
  private listener: pg.Client | undefined
  private listenRetry: NodeJS.Timeout | undefined
  private readonly folding: NodeJS.Timeout | undefined
  private readonly sizes: PlanSizes

  private constructor(private readonly options: PostgresStoreOptions) {
    this.feedFaults = options.feedFaults
    this.sizes = { ...PLAN_SIZES, ...options.planSizes }
    this.appendEvents = appendEventsSql(!(options.feedFaults?.naiveOrder ?? false))
    this.inserts = new InsertQueue(options.maxBatchRows ?? 512, (batch) => this.startBatch(batch))
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolMax ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 3000,
      query_timeout: options.queryTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'inlet',
    })
    // An idle connection that breaks (server restart, network cut) is dropped by the pool and
    // replaced on the next checkout; without a listener its error would end the process.
    this.pool.on('error', () => {})
    // No parallel workers for Inlet's statements: a count that took both cores with two
    // workers held the webhooks' own statements back (bench:mixed, browsing client); one core
    // each leaves the other to the writes.
    this.pool.on('connect', (client) => {
      client.query('SET max_parallel_workers_per_gather = 0').catch(() => {})
    })
    const foldEvery = options.foldIntervalMs ?? 250
    if (foldEvery > 0) {
      let running = false
      let ticks = 0
      this.folding = setInterval(async () => {
        if (running) return
        running = true
        try {
          // Steps of FOLD_ROWS, one after the other while there is more (after a start on a
          // database whose counters were never folded, or a burst), each holding its rows briefly.
          for (let step = 0; step < 100 && !this.closed; step++) {
            if ((await this.foldCounters()) < FOLD_ROWS) break
          }
          if (++ticks % MERGE_EVERY_TICKS === 0 && !this.closed) await this.mergeSearchEntries()
        } catch {
          // the next interval tries again
        } finally {
          running = false
        }
      }, foldEvery)
      this.folding.unref()
    }
  }

  /**
   * Folds the sender counters written since the last fold into sender_totals, on one replica
   * at a time (the others skip); returns how many counter rows it moved. /stats is exact at
   * any moment either way: this only keeps what it has to add up small. The rows it moves
   * are dead tuples until autovacuum, which migration 7 tells to come after 1,000 of them.
   */
  async foldCounters(): Promise<number> {
    return this.onOneReplica(ADVISORY_LOCKS.fold, async (client) => {
      return (await client.query<{ moved: number }>(FOLD_SQL, [FOLD_ROWS])).rows[0]?.moved ?? 0
    })
  }

  /**
   * Merges the search index's pending entries into it, on one replica at a time; returns the
   * pending pages it merged. GIN keeps new entries in a pending list and merges them once the
   * list passes 4 MB, inside whichever insert finds it full: 70–115 ms for 7,000 messages'
   * entries at a million messages, in a webhook's batch. Merged here every second instead, off
   * the acknowledgement path (autovacuum merges it too, but only every 20 % of the table's size).
   */
  async mergeSearchEntries(): Promise<number> {
    return this.onOneReplica(ADVISORY_LOCKS.searchUpkeep, async (client) => {
      const merged = await client.query<{ pages: string }>(
        "SELECT gin_clean_pending_list('message_texts_search'::regclass) AS pages",
      )
      return Number(merged.rows[0]?.pages ?? 0)
    })
  }

  /** Upkeep that one replica does at a time: `work` in a transaction holding `lock`, else 0 (another holds it). */
  private onOneReplica(lock: number, work: (client: pg.PoolClient) => Promise<number>): Promise<number> {
    return this.transaction(async (client) => {
      const locked = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_xact_lock($1) AS locked',
        [lock],
      )
      return locked.rows[0]?.locked === true ? work(client) : 0
    })
  }

  /** Connects and brings the schema up to date; fails when the database cannot be reached. */
  static async open(options: PostgresStoreOptions): Promise<PostgresMessageStore> {
    const store = new PostgresMessageStore(options)
    try {
      if (options.migrate ?? true) await store.migrate()
    } catch (error) {
      await store.pool.end()
      throw error
    }
    return store
  }

  private async migrate(): Promise<void> {
    // A connection of its own, without the request timeout (queryTimeoutMs): a migration may
    // copy a large table (version 8 copies the texts: 17 s at a million messages), and
    // replicas starting together wait here for the first one's.
    const client = new pg.Client({
      connectionString: this.options.url,
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 3000,
      query_timeout: MIGRATION_TIMEOUT_MS,
      application_name: 'inlet',
    })
    client.on('error', () => {}) // a broken connection fails the query in flight, which fails the start
    await client.connect()
    try {
      await client.query('BEGIN')
      // Each replica then sees what the first applied.
      await client.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.migration])
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      )
      const applied = new Set(
        (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map(
          (r) => r.version,
        ),
      )
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue
        await client.query(migration.sql)
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version])
      }
      await client.query('COMMIT')
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      throw error
    } finally {
      await client.end().catch(() => {})
    }
  }

  /** Reads in one snapshot: each statement sees what the first one saw. */
  private async readTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    try {
      return await this.transaction(work, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    } catch (error) {
      throw toStoreError(error)
    }
  }

  /** Runs `work` in one transaction on one pooled connection: COMMIT after it, ROLLBACK if it throws. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    const client = await this.pool.connect()
    // A connection that breaks while checked out emits 'error' (the query in flight fails
    // too); without a listener that event would end the process.
    const ignore = () => {}
    client.on('error', ignore)
    let broken: Error | undefined
    try {
      await client.query(begin)
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError // the connection is unusable: the pool drops it
      })
      throw error
    } finally {
      client.off('error', ignore)
      client.release(broken)
    }
  }

  insert(message: NewMessage): Promise<InsertOutcome> {
    return this.inserts.pushOne(message)
  }

  ingest(batch: IngestBatch): Promise<IngestResult> {
    return this.inserts.push(batch)
  }

  /**
   * Commits a batch now, or, while MAX_BATCHES_IN_FLIGHT are committing, keeps its units for
   * the batch that starts when one of them ends. Under load batches grow instead of queueing
   * for connections one webhook at a time: commits are ordered (the feed's lock), so a
   * thousand one-row batches a second wait on each other, while a few larger ones do not.
   */
  private startBatch(batch: PendingUnit[]): void {
    if (this.inFlight.size >= MAX_BATCHES_IN_FLIGHT) {
      this.waiting.push(...batch)
      return
    }
    const done = this.commitBatch(batch)
    this.inFlight.add(done)
    void done.finally(() => {
      this.inFlight.delete(done)
      const waiting = this.waiting
      this.waiting = []
      for (const next of batchesOf(waiting, this.options.maxBatchRows ?? 512)) this.startBatch(next)
    })
  }

  /** Writes a batch of units and settles each caller's promise; never rejects itself. */
  private async commitBatch(batch: PendingUnit[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { messages, statuses } = await this.writeUnits(batch)
        // The first of repeats of a key wins (the statement inserts in arrival order).
        const outcome = (created: Set<string>, key: string): InsertOutcome =>
          created.delete(key) ? 'created' : 'duplicate'
        for (const unit of batch) {
          unit.resolve({
            messages: unit.messages.map(({ message }) => outcome(messages, message.message_id)),
            statuses: unit.statuses.map((s) => outcome(statuses, statusKey(s.messageId, s.status))),
          })
        }
        return
      } catch (error) {
        if (isRetryable(error) && attempt < RETRIES) continue
        const mapped = toStoreError(error)
        if (mapped instanceof StorageUnavailableError || batch.length === 1) {
          for (const unit of batch) unit.reject(mapped)
          return
        }
        // One unit's data broke the statement: write each alone, so only that unit fails.
        await Promise.all(batch.map((unit) => this.commitBatch([unit])))
        return
      }
    }
  }

  /**
   * Inserts the units' rows in one statement (one round trip, committed by itself): the
   * messages sorted by message_id and the statuses by (message_id, status), so concurrent
   * batches from different replicas take their locks in one order. Returns what it created.
   */
  private async writeUnits(batch: PendingUnit[]): Promise<{ messages: Set<string>; statuses: Set<string> }> {
    const messages = batch.flatMap((unit) => unit.messages)
    // Stable sorts: repeats of a key keep their arrival order.
    messages.sort((a, b) => compareUtf8(a.message.message_id, b.message.message_id))
    const statuses = batch.flatMap((unit) => unit.statuses)
    statuses.sort((a, b) => compareUtf8(a.messageId, b.messageId) || compareUtf8(a.status, b.status))
    const columns: (string | null)[][] = Array.from({ length: 12 }, () => [])
    for (const keyed of messages) {
      const text = keyed.message.text
      // The folded text last, so the unnest's columns follow the shared row (MessageRow).
      const values = [...messageRow(keyed), text === null ? null : foldCase(text)]
      for (const [i, value] of values.entries()) columns[i]?.push(value)
    }
    const statusColumns: (string | number | null)[][] = Array.from({ length: 6 }, () => [])
    for (const st of statuses) {
      const values = [st.messageId, st.status, st.ts, st.recipientId, st.errors, statusRank(st.status)]
      for (const [i, value] of values.entries()) statusColumns[i]?.push(value)
    }
    const shard = Math.floor(Math.random() * COUNTER_SHARDS)
    const created = { messages: new Set<string>(), statuses: new Set<string>() }
    const moved = new Map<string, string>()
    await this.transaction(async (client) => {
      const result = await client.query<{ kind: 'm' | 's' | 'c'; message_id: string; status: string | null }>(
        INSERT_BATCH_SQL,
        [...columns, shard, ...statusColumns],
      )
      for (const row of result.rows) {
        if (row.kind === 'm') created.messages.add(row.message_id)
        else if (row.kind === 's') created.statuses.add(statusKey(row.message_id, row.status as string))
        else moved.set(row.message_id, row.status as string)
      }
      const events = this.eventsOf(batch, created.messages, moved)
      if (events[0].length > 0) await client.query(this.appendEvents, [...events])
      if (this.feedFaults !== undefined) await sleep(Math.random() * this.feedFaults.commitDelayMs)
    })
    if (created.messages.size > 0 || moved.size > 0) this.feedListeners.notify()
    return created
  }

  async delete(target: DeletionTarget): Promise<number> {
    const value =
      target.reason === 'single'
        ? target.messageId
        : target.reason === 'erasure'
          ? target.from
          : target.beforeKey
    const limit = target.reason === 'single' ? 1 : target.limit
    const shard = Math.floor(Math.random() * COUNTER_SHARDS)
    for (let attempt = 1; ; attempt++) {
      try {
        const ids = await this.transaction(async (client) => {
          const gone = (
            await client.query<{ message_id: string }>(deleteSql(target), [
              value,
              shard,
              target.reason !== 'retention',
              limit,
            ])
          ).rows.map((row) => row.message_id)
          if (gone.length > 0) {
            const none = gone.map(() => null)
            await client.query(this.appendEvents, [
              gone.map(() => 'message.deleted'),
              gone,
              none,
              gone.map(() => target.reason),
            ])
          }
          return gone
        })
        if (ids.length > 0) this.feedListeners.notify()
        return ids.length
      } catch (error) {
        if (isRetryable(error) && attempt < RETRIES) continue
        throw toStoreError(error)
      }
    }
  }

  async pruneTombstones(before: Date): Promise<number> {
    const result = await this.pool
      .query('DELETE FROM tombstones WHERE deleted_at < $1', [before])
      .catch((error: unknown) => {
        throw toStoreError(error)
      })
    return result.rowCount ?? 0
  }

  /** The batch's events in arrival order: messages created, then current statuses moved. */
  private eventsOf(batch: PendingUnit[], created: Set<string>, moved: Map<string, string>) {
    const types: string[] = []
    const ids: string[] = []
    const statuses: (string | null)[] = []
    const seen = new Set<string>()
    for (const unit of batch) {
      for (const { message } of unit.messages) {
        if (!created.has(message.message_id) || seen.has(message.message_id)) continue
        seen.add(message.message_id)
        types.push('message.created')
        ids.push(message.message_id)
        statuses.push(null)
      }
    }
    for (const [messageId, status] of moved) {
      types.push('status.updated')
      ids.push(messageId)
      statuses.push(status)
    }
    return [types, ids, statuses, ids.map(() => null)] as [string[], string[], (string | null)[], null[]]
  }

  async getMessage(messageId: string): Promise<MessageDetail | null> {
    const [row] = await this.query<MessageDetailRow>(
      `SELECT ${MESSAGE_DETAIL_COLUMNS} FROM messages WHERE message_id = $1`,
      [messageId],
    )
    return row === undefined ? null : messageDetail(row)
  }

  async getStatus(messageId: string): Promise<StatusDetail | null> {
    const rows = await this.query<CurrentStatusRow>(
      `SELECT ${CURRENT_STATUS_COLUMNS} FROM status_current WHERE message_id = $1`,
      [messageId],
    )
    const [detail] = await this.withHistory(rows)
    return detail ?? null
  }

  async listStatuses(query: StatusQuery): Promise<StatusPage> {
    const params: unknown[] = []
    const param = (value: unknown) => {
      params.push(value)
      return `$${params.length}`
    }
    const filters: string[] = []
    if (query.status !== undefined) filters.push(`status = ${param(query.status)}`)
    if (query.recipient !== undefined) filters.push(`recipient_id = ${param(query.recipient)}`)
    if (query.since !== undefined) filters.push(`updated_key >= ${param(timestampSortKey(query.since))}`)
    const pageFilters = [...filters]
    if (query.after !== undefined) {
      pageFilters.push(
        `(updated_key, message_id) > (${param(query.after.key)}, ${param(query.after.messageId)})`,
      )
    }
    const where = (f: string[]) => (f.length > 0 ? `WHERE ${f.join(' AND ')}` : '')
    // One statement: the total and the page see the same rows.
    const rows = await this.query<CurrentStatusRow & { total: string }>(
      `SELECT t.total, p.* FROM (SELECT count(*) AS total FROM status_current ${where(filters)}) AS t
       LEFT JOIN LATERAL (
         SELECT ${CURRENT_STATUS_COLUMNS} FROM status_current ${where(pageFilters)}
         ORDER BY updated_key, message_id LIMIT ${param(query.limit + 1)} OFFSET ${param(query.offset)}
       ) AS p ON true
       ORDER BY p.updated_key, p.message_id`,
      params,
    )
    const total = Number(rows[0]?.total ?? 0)
    const page = rows.filter((row) => row.message_id !== null)
    const more = page.length > query.limit
    if (more) page.length = query.limit
    const last = page.at(-1)
    return {
      data: await this.withHistory(page),
      total,
      ...(more && last ? { next: { key: last.updated_key, messageId: last.message_id } } : {}),
    }
  }

  /** Each current status with every status received for its message. */
  private async withHistory(rows: CurrentStatusRow[]): Promise<StatusDetail[]> {
    if (rows.length === 0) return []
    const history = await this.query<StatusHistoryRow>(
      'SELECT message_id, status, ts, errors FROM message_statuses WHERE message_id = ANY($1)',
      [rows.map((r) => r.message_id)],
    )
    return statusDetails(rows, history)
  }

  async exportPage(query: MessageQuery, format: ExportFormat, first: boolean): Promise<ExportPage> {
    return exportPage(format, await this.list({ ...query, countTotal: false }), first)
  }

  async list(query: MessageQuery): Promise<MessagePage> {
    if (query.q !== undefined) return this.search(query)
    // The total from the counters when they can answer, else from a remembered count plus
    // the matches committed since, else counted with the same filters.
    const statement = new Statement()
    let totalSql: string
    let countKey: string | undefined
    if (query.countTotal === false) totalSql = 'SELECT 0 AS total'
    else if (query.from === undefined && query.since === undefined)
      totalSql = 'SELECT coalesce(sum(total), 0) AS total FROM message_totals'
    else if (query.since === undefined) {
      // The same filter: the counters' column has the same name.
      const [from] = filtersOf(query, statement)
      totalSql = `SELECT (SELECT coalesce(sum(count), 0) FROM sender_counts WHERE ${from})
        + (SELECT coalesce(sum(count), 0) FROM sender_totals WHERE ${from}) AS total`
    } else {
      countKey = countKeyOf(query)
      totalSql = rememberedTotalSql(query, statement, this.counts.get(countKey), 'messages')
    }
    const sql = listSql(totalSql, pageSql(query, statement, { kind: 'rows' }))
    const rows = await this.query<ListRow>(sql, statement.params)
    if (countKey !== undefined) this.remember(countKey, rows[0], 'rows')
    return pageOf(rows, query)
  }

  /**
   * A list with q. A first request reads the sizes a plan needs (the sender's rows, how
   * recent `since` is) in the snapshot it counts in; the plan is remembered with the count,
   * and later requests run one statement: the remembered total plus the matches since, and
   * the page by the density the count gives (walkPays).
   */
  private async search(query: MessageQuery): Promise<MessagePage> {
    const countKey = countKeyOf(query)
    const known = this.counts.get(countKey)
    if (known?.seqs !== undefined) {
      const statement = new Statement()
      this.options.planned?.('kept')
      const sql = keptSql(query, statement, { ...known, seqs: known.seqs })
      const rows = await this.query<ListRow & { added: string[] | null }>(sql, statement.params)
      const seqs = [...known.seqs, ...(rows[0]?.added ?? [])]
      this.remember(countKey, rows[0], 'texts', seqs.length <= this.sizes.keptRows ? seqs : undefined)
      return pageOf(rows, query)
    }
    if (known?.plan !== undefined) {
      const statement = new Statement()
      const table = known.plan === 'rows' ? 'messages' : 'message_texts'
      const totalSql = rememberedTotalSql(query, statement, known, table)
      const kind =
        known.plan === 'rows' ? 'rows' : walkPays(query, known, this.sizes.walkRows) ? 'walk' : 'matches'
      this.options.planned?.(kind)
      const sql = listSql(totalSql, pageSql(query, statement, { kind }))
      const rows =
        kind === 'walk'
          ? await this.readTransaction(async (client) => {
              await client.query(WALK_SETTINGS)
              return (await client.query<ListRow>(sql, statement.params)).rows
            })
          : await this.query<ListRow>(sql, statement.params)
      this.remember(countKey, rows[0], known.plan)
      return pageOf(rows, query)
    }
    return this.readTransaction(async (client) => {
      const run = async <T extends pg.QueryResultRow>(build: (statement: Statement) => string) => {
        const statement = new Statement()
        return (await client.query<T>(build(statement), statement.params)).rows
      }
      const listed = async (total: (st: Statement) => string, source: PageSource) => {
        this.options.planned?.(source.kind)
        return run<ListRow>((st) => listSql(total(st), pageSql(query, st, source)))
      }
      type Sizes = HeadRow & { sender_rows?: string; recent_many?: boolean }
      const [sizes] = await run<Sizes>((st) => searchSizesSql(query, st, this.sizes.fewRows))
      if (sizes === undefined) throw new Error('store_meta has no row')
      const senderRows = sizes.sender_rows === undefined ? undefined : Number(sizes.sender_rows)
      // A sender with no messages has no matches either.
      if (senderRows === 0) return { data: [], total: 0 }
      if ((senderRows !== undefined && senderRows <= this.sizes.fewRows) || sizes.recent_many === false) {
        const rows = await listed((st) => rememberedTotalSql(query, st, undefined, 'messages'), {
          kind: 'rows',
        })
        this.remember(countKey, rows[0], 'rows')
        return pageOf(rows, query)
      }
      const [counted] = await run<{ total: string; seqs: string[] | null }>((st) =>
        firstCountSql(query, st, this.sizes.keptRows),
      )
      const total = Number(counted?.total ?? 0)
      let source: PageSource
      if (counted?.seqs != null) source = { kind: 'seqs', seqs: counted.seqs }
      else if (walkPays(query, { count: total, of: Number(sizes.messages) }, this.sizes.walkRows)) {
        source = { kind: 'walk' }
        await client.query(WALK_SETTINGS)
      } else source = { kind: 'matches' }
      const rows = await listed(() => `SELECT ${total}::bigint AS total`, source)
      this.remember(countKey, { ...sizes, total: String(total) }, 'texts', counted?.seqs ?? undefined)
      return pageOf(rows, query)
    })
  }

  /** Keeps a count read with HEAD_COLUMNS (count-cache.ts), with its plan and the matches' seqs when few. */
  private remember(
    countKey: string,
    row: Partial<ListRow & HeadRow> | undefined,
    plan: 'rows' | 'texts',
    seqs?: string[],
  ): void {
    if (row?.head === undefined || row.epoch === undefined || row.total === undefined) return
    this.counts.set(countKey, {
      count: Number(row.total),
      upTo: Number(row.head),
      epoch: Number(row.epoch),
      of: Number(row.messages),
      plan,
      ...(seqs === undefined ? {} : { seqs }),
    })
  }

  /** Positions are handed out in commit order (feed-sql.ts), so no commit can land behind the last one. */
  async feedHead(): Promise<number> {
    const rows = await this.query<{ head: string }>('SELECT coalesce(max(seq), 0) AS head FROM events', [])
    return Number(rows[0]?.head ?? 0)
  }

  async readEvents(after: number, limit: number): Promise<FeedEvent[]> {
    const rows = await this.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [after, limit],
    )
    return this.withEventData(rows)
  }

  private async withEventData(rows: EventRow[]): Promise<FeedEvent[]> {
    if (rows.length === 0) return []
    const subjects = eventSubjects(rows)
    const [messages, statuses] = await Promise.all([
      subjects.messages.length === 0
        ? []
        : this.query<MessageDetailRow>(
            `SELECT ${MESSAGE_DETAIL_COLUMNS} FROM messages WHERE message_id = ANY($1)`,
            [subjects.messages],
          ),
      subjects.statuses.length === 0
        ? []
        : this.query<EventStatusRow>(
            'SELECT message_id, status, ts, recipient_id, errors FROM message_statuses WHERE message_id = ANY($1)',
            [subjects.statuses],
          ),
    ])
    return assembleEvents(rows, messages, statuses)
  }

  /**
   * Commits by this process call the listener directly; commits by other replicas reach it
   * through LISTEN on one connection of its own, opened for the first listener and kept
   * until the store closes (long-polls come and go; each must not open a connection).
   */
  onEvents(listener: () => void): () => void {
    if (this.listener === undefined && this.listenRetry === undefined) void this.listen()
    return this.feedListeners.add(listener)
  }

  private async listen(): Promise<void> {
    if (this.closed) return
    const client = new pg.Client({
      connectionString: this.options.url,
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 3000,
      keepAlive: true,
      application_name: 'inlet-listen',
    })
    this.listener = client
    const retry = () => {
      if (this.listener !== client) return
      this.listener = undefined
      void client.end().catch(() => {})
      if (this.closed) return
      this.listenRetry = setTimeout(() => {
        this.listenRetry = undefined
        void this.listen()
      }, 1000)
      this.listenRetry.unref()
    }
    client.on('error', retry)
    client.on('end', retry)
    client.on('notification', () => this.feedListeners.notify())
    try {
      await client.connect()
      await client.query(`LISTEN ${EVENTS_CHANNEL}`)
      // Commits made while no connection listened: consumers read again.
      this.feedListeners.notify()
    } catch {
      retry()
    }
  }

  private stopListening(): void {
    clearTimeout(this.listenRetry)
    this.listenRetry = undefined
    const client = this.listener
    this.listener = undefined
    void client?.end().catch(() => {})
  }

  async registerDestinations(urls: string[]): Promise<void> {
    await this.query(
      `INSERT INTO forward_destinations (url, dispatched_seq)
       SELECT u, (SELECT coalesce(max(seq), 0) FROM events) FROM unnest($1::text[]) AS u
       ON CONFLICT (url) DO NOTHING`,
      [urls],
    )
  }

  async dispatch(url: string, limit: number, now: Date): Promise<number> {
    const [row] = await this.query<{ dispatched: number }>(DISPATCH_SQL, [url, limit, now.toISOString()])
    return row?.dispatched ?? 0
  }

  async leaseDue(urls: string[], now: Date, leaseMs: number, limit: number): Promise<LeasedDelivery[]> {
    const leaseUntil = new Date(now.getTime() + leaseMs).toISOString()
    const rows = await this.query<{ id: number; event_seq: number; destination: string; attempts: number }>(
      LEASE_SQL,
      [now.toISOString(), leaseUntil, urls, limit],
    )
    if (rows.length === 0) return []
    const events = new Map(
      (
        await this.withEventData(
          await this.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE seq = ANY($1) ORDER BY seq`, [
            rows.map((r) => r.event_seq),
          ]),
        )
      ).map((e) => [e.seq, e]),
    )
    return rows.flatMap((r) => {
      const event = events.get(r.event_seq)
      return event ? [{ id: r.id, destination: r.destination, attempts: r.attempts, leaseUntil, event }] : []
    })
  }

  async releaseLeases(leases: Pick<LeasedDelivery, 'id' | 'leaseUntil'>[]): Promise<void> {
    if (leases.length === 0) return
    await this.query(RELEASE_SQL, [leases.map((l) => l.id), leases.map((l) => l.leaseUntil)])
  }

  async recordAttempts(results: AttemptResult[]): Promise<void> {
    if (results.length === 0) return
    const column = <K extends keyof AttemptResult>(key: K) => results.map((r) => r[key])
    await this.query(RECORD_SQL, [
      column('id'),
      column('leaseUntil'),
      column('status'),
      column('statusCode'),
      column('error'),
      column('nextAttemptAt'),
      column('at'),
    ])
  }

  async stopDestination(url: string, reason: string, now: Date): Promise<number> {
    const [row] = await this.query<{ failed: number }>(
      `WITH stopped AS (UPDATE forward_destinations SET gone_at = $3 WHERE url = $1),
         failed AS (
           UPDATE deliveries SET status = 'failed', last_error = $2, next_attempt_at = NULL, lease_until = NULL
           WHERE destination = $1 AND status = 'pending' RETURNING 1)
       SELECT count(*)::int AS failed FROM failed`,
      [url, reason, now.toISOString()],
    )
    return row?.failed ?? 0
  }

  async retryDelivery(id: number, now: Date): Promise<RetryOutcome> {
    const [row] = await this.query<{ status: string; retried: boolean }>(
      `WITH target AS (SELECT status, destination FROM deliveries WHERE id = $1),
         retried AS (
           UPDATE deliveries SET status = 'pending', next_attempt_at = $2, lease_until = NULL
           WHERE id = $1 AND status = 'failed' RETURNING destination),
         resumed AS (UPDATE forward_destinations SET gone_at = NULL WHERE url IN (SELECT destination FROM retried))
       SELECT status, EXISTS (SELECT 1 FROM retried) AS retried FROM target`,
      [id, now.toISOString()],
    )
    if (row === undefined) return 'not_found'
    return row.retried ? 'scheduled' : 'not_failed'
  }

  async listDeliveries(query: DeliveryQuery): Promise<Delivery[]> {
    const params: unknown[] = [query.limit]
    const filters: string[] = []
    if (query.status !== undefined) {
      params.push(query.status)
      filters.push(`status = $${params.length}`)
    }
    if (query.before !== undefined) {
      params.push(query.before)
      filters.push(`id < $${params.length}`)
    }
    const where = filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : ''
    return this.query<Delivery>(
      `SELECT ${DELIVERY_COLUMNS} FROM deliveries ${where} ORDER BY id DESC LIMIT $1`,
      params,
    )
  }

  async deliveryBacklog(urls: string[]): Promise<DeliveryBacklog> {
    const [row] = await this.query<{ pending: number; oldest: string | null }>(
      `SELECT count(*)::int AS pending, ${iso('min(created_at)')} AS oldest FROM deliveries
       WHERE status = 'pending' AND destination = ANY($1)`,
      [urls],
    )
    return { pending: row?.pending ?? 0, oldestPendingAt: row?.oldest ?? null }
  }

  async stats(): Promise<Stats> {
    const [row] = await this.query<{
      total: string
      senders: string
      first_ts: string | null
      last_ts: string | null
      top: { from: string; count: number }[]
    }>(STATS_SQL, [], 'inlet-stats')
    if (row === undefined) throw new StorageUnavailableError()
    return {
      total_messages: Number(row.total),
      senders_count: Number(row.senders),
      messages_per_sender: row.top.map((s): SenderCount => ({ from: s.from, count: Number(s.count) })),
      first_message_ts: row.first_ts,
      last_message_ts: row.last_ts,
    }
  }

  /** Two statements: the latest key (an index seek), then one range scan of the time index. */
  async timeline(bucket: Bucket, buckets: number): Promise<TimelinePoint[]> {
    const [last] = await this.query<{ ts_key: string }>(
      'SELECT ts_key FROM messages ORDER BY ts_key DESC, message_id DESC LIMIT 1',
      [],
    )
    if (last === undefined) return []
    const keys = bucketKeys(last.ts_key, bucket, buckets)
    const rows = await this.query<{ key: string; count: number }>(
      `SELECT substr(ts_key, 1, ${BUCKET_KEY_LENGTH[bucket]}) AS key, count(*)::int AS count
       FROM messages WHERE ts_key >= $1 GROUP BY key`,
      [keys[0] ?? last.ts_key],
    )
    return timelinePoints(keys, new Map(rows.map((row) => [row.key, row.count])))
  }

  async health(): Promise<StoreHealth> {
    try {
      const rows = await this.query<{ version: number | null }>(
        'SELECT max(version) AS version FROM schema_migrations',
        [],
      )
      return { database: true, schema: rows[0]?.version === SCHEMA_VERSION }
    } catch {
      return { database: false, schema: false }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.folding)
    this.stopListening()
    this.inserts.flush()
    // Each batch that ends may start the one that waited behind it.
    while (this.inFlight.size > 0) await Promise.all(this.inFlight)
    await this.pool.end()
  }

  /** `name`: a statement each connection prepares once and then runs without planning it again. */
  private async query<T extends pg.QueryResultRow>(
    sql: string,
    params: unknown[],
    name?: string,
  ): Promise<T[]> {
    try {
      return (
        await this.pool.query<T>(
          name === undefined ? { text: sql, values: params } : { name, text: sql, values: params },
        )
      ).rows
    } catch (error) {
      throw toStoreError(error)
    }
  }
}
