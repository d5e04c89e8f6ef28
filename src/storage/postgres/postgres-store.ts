import pg from 'pg'
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
  SenderCount,
  Stats,
  StoreHealth,
} from '../message-store.js'
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js'

export interface PostgresStoreOptions {
  /** postgres:// or postgresql:// connection string. */
  url: string
  /** Most connections this process opens. */
  poolMax?: number
  /** Most rows written by one statement. */
  maxBatchRows?: number
  /** How long to wait for a connection before the request fails with 503. */
  connectTimeoutMs?: number
  /** How long to wait for a query's answer before the request fails with 503. */
  queryTimeoutMs?: number
}

interface PageRow {
  total: string
  message_id: string | null
  from_msisdn: string
  to_msisdn: string
  ts: string
  ts_key: string
  text: string | null
}

/** Any fixed number: every Inlet process takes this lock while it migrates. */
const MIGRATION_LOCK = 0x1e1e7
/** Counter rows per sender and for the total (see migrations.ts). */
const COUNTER_SHARDS = 16
/** A deadlock or serialization failure is retried this many times before it is a 503. */
const RETRIES = 3

/**
 * One statement per batch: insert the rows (the first write of a message_id wins, in this
 * batch and against committed rows) and add the ones created to one counter shard. A
 * single statement commits by itself, so it is acknowledged after its COMMIT.
 */
const INSERT_BATCH_SQL = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
      WITH ORDINALITY AS i (message_id, from_msisdn, to_msisdn, ts, ts_key, text, text_folded, n)
  ), inserted AS (
    INSERT INTO messages (message_id, from_msisdn, to_msisdn, ts, ts_key, text, text_folded)
    SELECT message_id, from_msisdn, to_msisdn, ts, ts_key, text, text_folded FROM input ORDER BY n
    ON CONFLICT (message_id) DO NOTHING
    RETURNING message_id, from_msisdn
  ), senders AS (
    INSERT INTO sender_counts (from_msisdn, shard, count)
    SELECT from_msisdn, $8::smallint, count(*) FROM inserted GROUP BY from_msisdn ORDER BY from_msisdn
    ON CONFLICT (from_msisdn, shard) DO UPDATE SET count = sender_counts.count + excluded.count
  ), totals AS (
    INSERT INTO message_totals (shard, total)
    SELECT $8::smallint, count(*) FROM inserted HAVING count(*) > 0
    ON CONFLICT (shard) DO UPDATE SET total = message_totals.total + excluded.total
  )
  SELECT message_id FROM inserted`

/** Everything /stats shows, read in one statement (one snapshot), from counters and index ends. */
const STATS_SQL = `
  SELECT
    (SELECT coalesce(sum(total), 0) FROM message_totals) AS total,
    (SELECT count(DISTINCT from_msisdn) FROM sender_counts) AS senders,
    (SELECT ts FROM messages ORDER BY ts_key, message_id LIMIT 1) AS first_ts,
    (SELECT ts FROM messages ORDER BY ts_key DESC, message_id DESC LIMIT 1) AS last_ts,
    (SELECT coalesce(json_agg(json_build_object('from', f, 'count', c) ORDER BY c DESC, f), '[]')
       FROM (SELECT from_msisdn AS f, sum(count) AS c FROM sender_counts
             GROUP BY from_msisdn ORDER BY c DESC, from_msisdn LIMIT 10) AS top) AS top`

/** The contract's order, as JavaScript compares message_ids: UTF-8 bytes. */
const byMessageId = (a: PendingInsert, b: PendingInsert) =>
  Buffer.compare(Buffer.from(a.message.message_id), Buffer.from(b.message.message_id))

/** LIKE treats `%`, `_` and `\` specially; q is literal, so they are escaped. */
const likeContaining = (folded: string) => `%${folded.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

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
export class PostgresMessageStore implements MessageStore {
  private readonly pool: pg.Pool
  private readonly inserts: InsertQueue
  private readonly inFlight = new Set<Promise<void>>()
  private closed = false

  private constructor(options: PostgresStoreOptions) {
    this.inserts = new InsertQueue(options.maxBatchRows ?? 512, (batch) => {
      const done = this.commitBatch(batch)
      this.inFlight.add(done)
      void done.finally(() => this.inFlight.delete(done))
    })
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
  }

  /** Connects and brings the schema up to date; fails when the database cannot be reached. */
  static async open(options: PostgresStoreOptions): Promise<PostgresMessageStore> {
    const store = new PostgresMessageStore(options)
    try {
      await store.migrate()
    } catch (error) {
      await store.pool.end()
      throw error
    }
    return store
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      // Replicas starting together queue here; each then sees what the first applied.
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
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
      client.release()
    }
  }

  insert(message: Message): Promise<InsertOutcome> {
    return this.inserts.push(message)
  }

  /** Writes a batch and settles each caller's promise; never rejects itself. */
  private async commitBatch(batch: PendingInsert[]): Promise<void> {
    const rows = [...batch].sort(byMessageId) // stable: repeats of an id keep arrival order
    for (let attempt = 1; ; attempt++) {
      try {
        const created = await this.writeRows(rows)
        for (const row of rows) {
          const id = row.message.message_id
          row.resolve(created.delete(id) ? 'created' : 'duplicate') // the first of repeats wins
        }
        return
      } catch (error) {
        if (isRetryable(error) && attempt < RETRIES) continue
        const mapped = toStoreError(error)
        if (mapped instanceof StorageUnavailableError || rows.length === 1) {
          for (const row of rows) row.reject(mapped)
          return
        }
        // One row's data broke the statement: write each alone, so only that row fails.
        await Promise.all(rows.map((row) => this.commitBatch([row])))
        return
      }
    }
  }

  /** Inserts the rows in one statement; returns the message_ids it created. */
  private async writeRows(rows: PendingInsert[]): Promise<Set<string>> {
    const columns: (string | null)[][] = [[], [], [], [], [], [], []]
    for (const { message: m, tsKey } of rows) {
      const values = [
        m.message_id,
        m.from,
        m.to,
        m.ts,
        tsKey,
        m.text,
        m.text === null ? null : foldCase(m.text),
      ]
      for (const [i, value] of values.entries()) columns[i]?.push(value)
    }
    const shard = Math.floor(Math.random() * COUNTER_SHARDS)
    const result = await this.pool.query<{ message_id: string }>(INSERT_BATCH_SQL, [...columns, shard])
    return new Set(result.rows.map((r) => r.message_id))
  }

  async list(query: MessageQuery): Promise<MessagePage> {
    const params: unknown[] = []
    const param = (value: unknown) => {
      params.push(value)
      return `$${params.length}`
    }
    const filters: string[] = []
    if (query.from !== undefined) filters.push(`from_msisdn = ${param(query.from)}`)
    if (query.since !== undefined) filters.push(`ts_key >= ${param(timestampSortKey(query.since))}`)
    // The folded text contains the folded query: the contract's test, which the trigram index
    // answers for queries of three or more characters.
    if (query.q !== undefined) filters.push(`text_folded LIKE ${param(likeContaining(foldCase(query.q)))}`)

    // The total from the counters when they can answer, else counted with the same filters.
    let totalSql: string
    if (filters.length === 0) totalSql = 'SELECT coalesce(sum(total), 0) AS total FROM message_totals'
    else if (query.from !== undefined && filters.length === 1)
      // The same filter: the counters' column has the same name.
      totalSql = `SELECT coalesce(sum(count), 0) AS total FROM sender_counts WHERE ${filters[0]}`
    else totalSql = `SELECT count(*) AS total FROM messages WHERE ${filters.join(' AND ')}`

    const pageFilters = [...filters]
    if (query.after !== undefined) {
      // A row-value comparison on the (ts_key, message_id) index: a deep page costs what the first does.
      pageFilters.push(`(ts_key, message_id) > (${param(query.after.key)}, ${param(query.after.messageId)})`)
    }
    const where = pageFilters.length > 0 ? `WHERE ${pageFilters.join(' AND ')}` : ''
    // One statement, so the total and the page see the same rows; one row more than asked
    // tells whether a next page exists, and the LEFT JOIN keeps the total when the page is empty.
    const sql = `
      SELECT t.total, p.* FROM (${totalSql}) AS t LEFT JOIN LATERAL (
        SELECT message_id, from_msisdn, to_msisdn, ts, ts_key, text FROM messages ${where}
        ORDER BY ts_key, message_id LIMIT ${param(query.limit + 1)} OFFSET ${param(query.offset)}
      ) AS p ON true
      ORDER BY p.ts_key, p.message_id`
    const result = await this.query<PageRow>(sql, params)
    const total = Number(result[0]?.total ?? 0)
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
      total,
      ...(more && last ? { next: { key: last.ts_key, messageId: last.message_id as string } } : {}),
    }
  }

  async stats(): Promise<Stats> {
    const [row] = await this.query<{
      total: string
      senders: string
      first_ts: string | null
      last_ts: string | null
      top: { from: string; count: number }[]
    }>(STATS_SQL, [])
    if (row === undefined) throw new StorageUnavailableError()
    return {
      total_messages: Number(row.total),
      senders_count: Number(row.senders),
      messages_per_sender: row.top.map((s): SenderCount => ({ from: s.from, count: Number(s.count) })),
      first_message_ts: row.first_ts,
      last_message_ts: row.last_ts,
    }
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
    this.inserts.flush()
    await Promise.all(this.inFlight)
    await this.pool.end()
  }

  private async query<T extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.pool.query<T>(sql, params)).rows
    } catch (error) {
      throw toStoreError(error)
    }
  }
}
