import type Database from 'better-sqlite3'
import { compareUtf8 } from '../../domain/byte-order.js'
import { foldCase } from '../../domain/text-search.js'
import {
  BUCKET_KEY_LENGTH,
  type Bucket,
  bucketKeys,
  type TimelinePoint,
  timelinePoints,
} from '../../domain/timeline.js'
import { timestampSortKey } from '../../domain/timestamp.js'
import type { KnownCount } from '../count-cache.js'
import { type MessageDetailRow, messageDetail } from '../detail-rows.js'
import type {
  Message,
  MessageDetail,
  MessagePage,
  MessageQuery,
  PagePosition,
  Stats,
} from '../message-store.js'
import { inSnapshot, statementCache } from './connection.js'
import { choosePagePlan, indexMatchesWorthKnowing, type PagePlan } from './search-plan.js'

/**
 * A count of the rows matching one filter, among the rows up to a rowid, while no deletion
 * has happened since: `epoch` is the count of deletion transactions when it was counted
 * (store_meta.deletions). Rowids only rise and are never reused, so between deletions the
 * matches up to a rowid never change; any deletion makes every remembered count stale.
 */
/** What a list read returns: the page, and the exact filtered total it counted (to remember). */
export interface ListResult {
  page: MessagePage
  counted: KnownCount | null
}

interface MessageRow {
  message_id: string
  from_msisdn: string
  to_msisdn: string
  ts: string
  ts_key: string
  text: string | null
}

/** A messages row as SQLite keeps it: the payload is JSON text. */
type StoredDetailRow = Omit<MessageDetailRow, 'payload'> & { payload: string | null }

/** The trigram index answers queries of at least this many code points. */
const TRIGRAM = 3
/** How many new rows a remembered count is brought up to date over before it is counted afresh. */
const COUNT_UPDATE_MAX_ROWS = 20_000
const COLUMNS = 'message_id, from_msisdn, to_msisdn, ts, ts_key, text'

/** The filters of a query in the forms the SQL uses. */
interface Filters {
  from: string | undefined
  sinceKey: string | undefined
  /** The folded q, when there is one. */
  folded: string | undefined
  /** q is long enough for the search index. */
  indexed: boolean
  /** The FTS5 phrase for q: the folded text, quoted. */
  match: string
}

/**
 * What the read sees, fixed at the start of its snapshot: the latest rowid, and how far
 * each index has got (its progress mark, written in the same transaction as the index).
 * Rows after an index's mark (its tail) are tested one by one, so a read sees every
 * committed message without writing anything. The search index is another database file
 * with a snapshot of its own: rows it holds beyond `latest` are left out, so both sides
 * describe the same rows.
 */
interface View {
  latest: number
  searchIndexed: number
  senderIndexed: number
  /** The epoch of remembered counts (KnownCount). */
  epoch: number
  /** The search index's purge mark: deleted rows noted after it may still be in the index. */
  purgedSeq: number
}

/** Which index a plan reads, and so whose tail it adds. */
type IndexKind = 'search' | 'sender'

const indexedUpTo = (view: View, kind: IndexKind) =>
  kind === 'search' ? view.searchIndexed : view.senderIndexed

/** The search index's matches for q (a ? for the phrase), among the rows up to a rowid (another ?). */
const SEARCH_MATCHES = 'SELECT rowid FROM search.messages_search WHERE messages_search MATCH ? AND rowid <= ?'

/** SQL conditions on one messages row, with their parameters. */
interface RowTest {
  where: string[]
  params: unknown[]
}

const toMessage = (row: MessageRow): Message => ({
  message_id: row.message_id,
  from: row.from_msisdn,
  to: row.to_msisdn,
  ts: row.ts,
  text: row.text,
})

/** The contract's order on stored rows: the instant's key, then message_id in UTF-8 byte order. */
function compareRows(a: MessageRow, b: MessageRow): number {
  if (a.ts_key !== b.ts_key) return a.ts_key < b.ts_key ? -1 : 1
  return compareUtf8(a.message_id, b.message_id)
}

/**
 * Every read, on one read-only connection (a reader thread's). Each read runs in one
 * snapshot, so its counts, its plan and its page describe the same rows.
 */
export class MessageReader {
  private readonly statements
  private readonly cached: (sql: string) => Database.Statement
  private readonly snapshot: <T>(run: () => T) => T

  constructor(readonly db: Database.Database) {
    this.snapshot = inSnapshot(db)
    this.cached = statementCache(db)
    this.statements = {
      totals: db.prepare('SELECT total, senders, first_ts, last_ts FROM message_totals WHERE id = 1'),
      total: db.prepare('SELECT total FROM message_totals WHERE id = 1').pluck(),
      // A scan of one row per sender, not per message.
      topSenders: db.prepare(
        `SELECT from_msisdn AS "from", count FROM sender_counts ORDER BY count DESC, from_msisdn ASC LIMIT 10`,
      ),
      senderCount: db.prepare('SELECT count FROM sender_counts WHERE from_msisdn = ?').pluck(),
      latest: db.prepare('SELECT MAX(rowid) FROM messages').pluck(),
      lastKey: db
        .prepare(
          'SELECT ts_key FROM messages INDEXED BY messages_by_time ORDER BY ts_key DESC, message_id DESC LIMIT 1',
        )
        .pluck(),
      searchProgress: db.prepare('SELECT indexed_rowid, purged_seq FROM search.search_progress WHERE id = 1'),
      // The last deletion note (search_purge) written, and the epoch of remembered counts.
      deletions: db.prepare(
        `SELECT (SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'search_purge') AS noted,
           deletions AS epoch FROM store_meta WHERE id = 1`,
      ),
      // Deleted rows the index still holds (noted after its purge mark) that match: subtracted.
      staleMatches: db
        .prepare(
          `SELECT COUNT(*) FROM search.messages_search WHERE messages_search MATCH ? AND rowid <= ?
             AND rowid IN (SELECT row FROM search_purge WHERE seq > ?)`,
        )
        .pluck(),
      senderIndexed: db.prepare('SELECT indexed_rowid FROM index_progress WHERE id = 1').pluck(),
      // The first row at or after an instant, in the contract's order: where a walk from
      // `since` starts. Rows arrive roughly in time order, so latest − its rowid estimates
      // how many rows follow it (used only to choose a plan, never as an answer).
      firstSince: db
        .prepare(
          'SELECT rowid FROM messages INDEXED BY messages_by_time WHERE ts_key >= ? ORDER BY ts_key, message_id LIMIT 1',
        )
        .pluck(),
      // How many matches the search index has, counting no further than `limit`: a probe
      // whose cost is that of the smaller of the two.
      matchesUpTo: db.prepare(`SELECT COUNT(*) FROM (${SEARCH_MATCHES} LIMIT ?)`).pluck(),
      searchCount: db.prepare(`SELECT COUNT(*) FROM (${SEARCH_MATCHES})`).pluck(),
    }
  }

  /** One message with everything kept about it, or null. */
  getMessage(messageId: string): MessageDetail | null {
    const row = this.cached(
      `SELECT message_id, from_msisdn, to_msisdn, ts, text, source, type, contact_name,
         created_at AS received_at, payload
       FROM messages WHERE message_id = ?`,
    ).get(messageId) as StoredDetailRow | undefined
    if (row === undefined) return null
    return messageDetail({
      ...row,
      payload: row.payload === null ? null : (JSON.parse(row.payload) as unknown),
    })
  }

  stats(): Stats {
    const s = this.statements
    return this.snapshot(() => {
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
    })
  }

  /** GET /stats/timeline: one range scan of the time index over the window, in one snapshot. */
  timeline(bucket: Bucket, buckets: number): TimelinePoint[] {
    return this.snapshot(() => {
      const last = this.statements.lastKey.get() as string | undefined
      if (last === undefined) return []
      const keys = bucketKeys(last, bucket, buckets)
      const rows = this.cached(
        `SELECT substr(ts_key, 1, ${BUCKET_KEY_LENGTH[bucket]}) AS key, count(*) AS count
         FROM messages INDEXED BY messages_by_time WHERE ts_key >= ? GROUP BY key`,
      ).all(keys[0] ?? last) as { key: string; count: number }[]
      return timelinePoints(keys, new Map(rows.map((row) => [row.key, row.count])))
    })
  }

  /**
   * A page of GET /messages. `known` is a count remembered for the same filters (the store
   * keeps them across reads and threads): messages are never updated and take rising
   * rowids, so between deletions the matches up to rowid M never change, and only rows
   * written since are tested (KnownCount's epoch says whether a deletion came between).
   */
  list(query: MessageQuery, known: KnownCount | null): ListResult {
    for (;;) {
      const result = this.snapshot(() => {
        const view = this.view()
        return view === null ? null : this.listIn(view, query, known)
      })
      if (result !== null) return result
    }
  }

  /**
   * What this snapshot sees, or null when it must be taken again. The messages' snapshot
   * starts first (the first statement reads them), the search index's after it: so the
   * index has dropped no deleted row that this snapshot does not know is deleted, unless
   * a deletion committed and was purged in between. Its purge mark then passes the last
   * note this snapshot can see, and the read starts over (rare: a purge follows a
   * deletion by a few milliseconds at the soonest).
   */
  private view(): View | null {
    const s = this.statements
    const latest = (s.latest.get() as number | null) ?? 0
    const deletions = s.deletions.get() as { noted: number; epoch: number }
    const search = s.searchProgress.get() as { indexed_rowid: number; purged_seq: number } | undefined
    if (search !== undefined && search.purged_seq > deletions.noted) return null
    return {
      latest,
      searchIndexed: Math.min(latest, search?.indexed_rowid ?? 0),
      senderIndexed: s.senderIndexed.get() as number,
      epoch: deletions.epoch,
      purgedSeq: search?.purged_seq ?? 0,
    }
  }

  private listIn(view: View, query: MessageQuery, known: KnownCount | null): ListResult {
    const f = this.filtersOf(query)
    const senderRows = f.from === undefined ? undefined : this.senderRows(f.from)
    if (senderRows === 0) return { page: { data: [], total: 0 }, counted: null } // at once, whatever else
    const unfiltered = f.from === undefined && f.sinceKey === undefined && f.folded === undefined
    const bySenderOnly = f.from !== undefined && f.sinceKey === undefined && f.folded === undefined
    if (unfiltered || bySenderOnly) {
      // The counters are exact: no count at all.
      const total = unfiltered ? (this.statements.total.get() as number) : (senderRows as number)
      const page = bySenderOnly
        ? this.senderWalkPage(f, view, query, total)
        : this.timeWalkPage(f, query, total)
      return { page, counted: null }
    }
    const probe = new SizeProbe(this, f, view, senderRows)
    const counted = this.exactCount(f, view, known, probe)
    const total = counted.count
    if (total === 0) return { page: { data: [], total }, counted }
    const sizes = { total, rangeRows: probe.rangeRows(), senderRows, end: query.offset + query.limit }
    const plan = choosePagePlan({
      ...sizes,
      indexMatches: f.indexed ? probe.planMatches(total, indexMatchesWorthKnowing(sizes)) : undefined,
    })
    return { page: this.planPage(plan, f, view, query, total), counted }
  }

  private filtersOf(query: MessageQuery): Filters {
    const folded = query.q === undefined ? undefined : foldCase(query.q)
    return {
      from: query.from,
      sinceKey: query.since === undefined ? undefined : (timestampSortKey(query.since) ?? undefined),
      folded,
      indexed: folded !== undefined && [...folded].length >= TRIGRAM,
      match: folded === undefined ? '' : `"${folded.replaceAll('"', '""')}"`,
    }
  }

  /** The filters as a test of one messages row (its text test last: the dearest). */
  private rowTest(f: Filters, { text = true } = {}): RowTest {
    const where: string[] = []
    const params: unknown[] = []
    if (f.from !== undefined) {
      where.push('from_msisdn = ?')
      params.push(f.from)
    }
    if (f.sinceKey !== undefined) {
      where.push('ts_key >= ?')
      params.push(f.sinceKey)
    }
    if (text && f.folded !== undefined) {
      where.push('instr(inlet_fold(text), ?) > 0')
      params.push(f.folded)
    }
    return { where, params }
  }

  senderRows(from: string): number {
    return (this.statements.senderCount.get(from) as number | undefined) ?? 0
  }

  /** Rows at or after `sinceKey`, estimated (see firstSince); all rows without it. */
  estimateRangeRows(f: Filters, view: View): number {
    if (f.sinceKey === undefined) return this.statements.total.get() as number
    const first = this.statements.firstSince.get(f.sinceKey) as number | undefined
    return first === undefined ? 0 : view.latest - first + 1
  }

  /** The search index's matches for q, counted no further than `limit`. */
  indexMatchesUpTo(f: Filters, view: View, limit: number): number {
    return this.statements.matchesUpTo.get(f.match, view.searchIndexed, limit) as number
  }

  /** The index's matches among live rows: deleted rows it has not dropped yet are subtracted. */
  indexMatches(f: Filters, view: View): number {
    const s = this.statements
    const all = s.searchCount.get(f.match, view.searchIndexed) as number
    return all - (s.staleMatches.get(f.match, view.searchIndexed, view.purgedSeq) as number)
  }

  /** The exact total: a remembered count brought up to date, or a count from scratch. */
  private exactCount(f: Filters, view: View, known: KnownCount | null, probe: SizeProbe): KnownCount {
    const { latest, epoch } = view
    if (
      known !== null &&
      known.epoch === epoch &&
      latest >= known.upTo &&
      latest - known.upTo <= COUNT_UPDATE_MAX_ROWS
    ) {
      const test = this.rowTest(f)
      const added =
        latest === known.upTo
          ? 0
          : (this.cached(
              `SELECT COUNT(*) FROM messages WHERE rowid > ? AND rowid <= ? AND ${test.where.join(' AND ')}`,
            )
              .pluck()
              .get(known.upTo, latest, ...test.params) as number)
      return { count: known.count + added, upTo: latest, epoch }
    }
    return { count: this.countAfresh(f, view, probe), upTo: latest, epoch }
  }

  /**
   * Counts the matches from scratch by the cheapest way the sizes allow: the search index,
   * the sender's rows, or the rows since `since`. Index-based counts add the tail (rows the
   * indexes do not hold yet) by testing it row by row.
   */
  private countAfresh(f: Filters, view: View, probe: SizeProbe): number {
    const test = this.rowTest(f)
    const count = (sql: string, params: unknown[]) =>
      this.cached(sql)
        .pluck()
        .get(...params) as number
    const tailAfter = (indexed: number) =>
      view.latest <= indexed
        ? 0
        : count(`SELECT COUNT(*) FROM messages WHERE rowid > ? AND ${test.where.join(' AND ')}`, [
            indexed,
            ...test.params,
          ])
    const tail = (kind: IndexKind) => tailAfter(indexedUpTo(view, kind))
    switch (probe.countPlan()) {
      case 'index-only':
        return this.indexMatches(f, view) + tail('search')
      case 'index-filtered': {
        const others = this.rowTest(f, { text: false })
        return (
          count(
            `SELECT COUNT(*) FROM messages WHERE rowid IN (${SEARCH_MATCHES}) AND ${others.where.join(' AND ')}`,
            [f.match, view.searchIndexed, ...others.params],
          ) + tail('search')
        )
      }
      case 'sender-rows': {
        const index = this.senderIndexTest(f)
        const sql =
          f.folded === undefined
            ? `SELECT COUNT(*) FROM sender_index AS s WHERE ${index.where.join(' AND ')}`
            : `SELECT COUNT(*) FROM sender_index AS s JOIN messages AS m ON m.rowid = s.row
               WHERE ${index.where.join(' AND ')} AND instr(inlet_fold(m.text), ?) > 0`
        return (
          count(sql, f.folded === undefined ? index.params : [...index.params, f.folded]) + tail('sender')
        )
      }
      case 'intersect': {
        const upTo =
          f.from === undefined ? view.searchIndexed : Math.min(view.searchIndexed, view.senderIndexed)
        return this.intersectCount(f, upTo) + tailAfter(upTo)
      }
      case 'scan':
        // Every row is tested (the ordering index bounds the rows when since is set).
        return count(`SELECT COUNT(*) FROM messages WHERE ${test.where.join(' AND ')}`, test.params)
    }
  }

  /**
   * Both sides large (a busy sender or a wide `since`, and a common word): the other
   * filters' rowids go into a bitmap, and the search index's matches are counted against
   * it; both are read from indexes alone, no message row is fetched. Rows up to `upTo`.
   */
  private intersectCount(f: Filters, upTo: number): number {
    const chosen = new Uint32Array((upTo >>> 5) + 1)
    const rowids =
      f.from === undefined
        ? this.cached(
            'SELECT rowid FROM messages INDEXED BY messages_by_time WHERE ts_key >= ? AND rowid <= ?',
          )
            .pluck()
            .all(f.sinceKey, upTo)
        : this.cached(
            `SELECT row FROM sender_index WHERE from_msisdn = ? ${f.sinceKey === undefined ? '' : 'AND ts_key >= ?'} AND row <= ?`,
          )
            .pluck()
            .all(...(f.sinceKey === undefined ? [f.from, upTo] : [f.from, f.sinceKey, upTo]))
    for (const rowid of rowids as number[])
      chosen[rowid >>> 5] = (chosen[rowid >>> 5] as number) | (1 << (rowid & 31))
    let count = 0
    const matches = this.cached(SEARCH_MATCHES).pluck().all(f.match, upTo) as number[]
    for (const rowid of matches) if (((chosen[rowid >>> 5] as number) & (1 << (rowid & 31))) !== 0) count++
    return count
  }

  /** `from` and `since` as conditions on the sender index (alias s). */
  private senderIndexTest(f: Filters, after?: PagePosition): RowTest {
    const where = ['s.from_msisdn = ?']
    const params: unknown[] = [f.from]
    if (f.sinceKey !== undefined) {
      where.push('s.ts_key >= ?')
      params.push(f.sinceKey)
    }
    if (after !== undefined) {
      where.push('(s.ts_key, s.message_id) > (?, ?)')
      params.push(after.key, after.messageId)
    }
    return { where, params }
  }

  private planPage(plan: PagePlan, f: Filters, view: View, query: MessageQuery, total: number): MessagePage {
    switch (plan) {
      case 'time-walk-test':
        return this.timeWalkPage(f, query, total)
      case 'sender-walk':
        return this.senderWalkPage(f, view, query, total)
      case 'time-walk-set':
      case 'sort-matches': {
        const others = this.rowTest(f, { text: false })
        const where = [...others.where, `rowid IN (${SEARCH_MATCHES})`]
        const params = [...others.params, f.match, view.searchIndexed]
        if (query.after !== undefined) {
          where.push('(ts_key, message_id) > (?, ?)')
          params.push(query.after.key, query.after.messageId)
        }
        const hint = plan === 'time-walk-set' ? 'INDEXED BY messages_by_time' : ''
        return this.mergedPage(
          `SELECT ${COLUMNS} FROM messages ${hint} WHERE ${where.join(' AND ')}
           ORDER BY ts_key, message_id LIMIT ? OFFSET ?`,
          params,
          { f, view, kind: 'search' },
          query,
          total,
        )
      }
    }
  }

  /**
   * Walks the ordering index from the start (or `since`, or the cursor) testing each row;
   * reads the table itself, so it needs no tail.
   */
  private timeWalkPage(f: Filters, query: MessageQuery, total: number): MessagePage {
    const test = this.rowTest(f)
    if (query.after !== undefined) {
      test.where.push('(ts_key, message_id) > (?, ?)')
      test.params.push(query.after.key, query.after.messageId)
    }
    const where = test.where.length > 0 ? `WHERE ${test.where.join(' AND ')}` : ''
    const rows = this.cached(
      `SELECT ${COLUMNS} FROM messages INDEXED BY messages_by_time ${where}
       ORDER BY ts_key, message_id LIMIT ? OFFSET ?`,
    ).all(...test.params, query.limit + 1, query.offset) as MessageRow[]
    return this.toPage(rows, query, total)
  }

  /** One sender's rows in order through the sender index (plus the tail), testing q if any. */
  private senderWalkPage(f: Filters, view: View, query: MessageQuery, total: number): MessagePage {
    const index = this.senderIndexTest(f, query.after)
    const textTest = f.folded === undefined ? '' : 'AND instr(inlet_fold(m.text), ?) > 0'
    return this.mergedPage(
      `SELECT m.message_id, m.from_msisdn, m.to_msisdn, m.ts, m.ts_key, m.text
       FROM sender_index AS s JOIN messages AS m ON m.rowid = s.row
       WHERE ${index.where.join(' AND ')} ${textTest}
       ORDER BY s.ts_key, s.message_id LIMIT ? OFFSET ?`,
      f.folded === undefined ? index.params : [...index.params, f.folded],
      { f, view, kind: 'sender' },
      query,
      total,
    )
  }

  /**
   * A page from an index (`sql`, which ends in LIMIT ? OFFSET ? and sees only indexed rows)
   * merged with the tail's matches. At most `tail` of those sort before any index row, so
   * the page lies within the index's rows from offset − tail on: fetch that window, merge,
   * and cut the page out of it by rank.
   */
  private mergedPage(
    sql: string,
    params: unknown[],
    from: { f: Filters; view: View; kind: IndexKind },
    query: MessageQuery,
    total: number,
  ): MessagePage {
    const tail = this.tailRows(from.f, indexedUpTo(from.view, from.kind), from.view, query.after)
    if (tail.length === 0) {
      return this.toPage(
        this.cached(sql).all(...params, query.limit + 1, query.offset) as MessageRow[],
        query,
        total,
      )
    }
    const start = Math.max(0, query.offset - tail.length)
    const window = this.cached(sql).all(
      ...params,
      query.limit + 1 + (query.offset - start),
      start,
    ) as MessageRow[]
    // The index holds no more than `start` matches, so offset ≥ total: nothing is left.
    if (start > 0 && window.length === 0) return { data: [], total }
    let i = 0
    let j = 0
    // Tail rows before the window's first row rank below the page when the window does not
    // start at the beginning (start = offset − tail.length): skip them.
    if (start > 0 && window.length > 0)
      while (j < tail.length && compareRows(tail[j] as MessageRow, window[0] as MessageRow) < 0) j++
    let rank = start + j
    const page: MessageRow[] = []
    while (page.length <= query.limit && (i < window.length || j < tail.length)) {
      const fromTail =
        i >= window.length ||
        (j < tail.length && compareRows(tail[j] as MessageRow, window[i] as MessageRow) < 0)
      const row = fromTail ? (tail[j++] as MessageRow) : (window[i++] as MessageRow)
      if (rank >= query.offset) page.push(row)
      rank++
    }
    return this.toPage(page, query, total)
  }

  /** The rows after an index's mark that pass the filters (and follow the cursor), in the contract's order. */
  private tailRows(f: Filters, indexed: number, view: View, after: PagePosition | undefined): MessageRow[] {
    if (view.latest <= indexed) return []
    const test = this.rowTest(f)
    if (after !== undefined) {
      test.where.push('(ts_key, message_id) > (?, ?)')
      test.params.push(after.key, after.messageId)
    }
    const rows = this.cached(
      `SELECT ${COLUMNS} FROM messages WHERE rowid > ? ${test.where.map((w) => `AND ${w}`).join(' ')}`,
    ).all(indexed, ...test.params) as MessageRow[]
    return rows.sort(compareRows)
  }

  /** Rows fetched one more than asked tell whether a next page exists. */
  private toPage(rows: MessageRow[], query: MessageQuery, total: number): MessagePage {
    const more = rows.length > query.limit
    if (more) rows.length = query.limit
    const last = rows.at(-1)
    return {
      data: rows.map(toMessage),
      total,
      ...(more && last ? { next: { key: last.ts_key, messageId: last.message_id } } : {}),
    }
  }
}

export type CountPlan = 'index-only' | 'index-filtered' | 'intersect' | 'sender-rows' | 'scan'

/**
 * Up to this many rows, testing the rows the other filters leave (a sender's, or those since
 * `since`: a few µs each) beats intersecting them with the search index's matches (a
 * fraction of a µs each, but for every match of the word).
 */
const WALK_ROWS_MAX = 20_000

/**
 * The sizes a read's plans are chosen by, each measured at most once and only when asked:
 * the sender's rows (a counter), the rows since `since` (estimated), and the search index's
 * matches (probed up to the size they are compared with, so the probe costs no more than
 * the cheaper side).
 */
class SizeProbe {
  private range: number | undefined
  private matches: { count: number; exact: boolean } | undefined

  constructor(
    private readonly reader: MessageReader,
    private readonly f: Filters,
    private readonly view: View,
    private readonly senderRows: number | undefined,
  ) {}

  rangeRows(): number {
    this.range ??= this.reader.estimateRangeRows(this.f, this.view)
    return this.range
  }

  /**
   * The index's matches, for choosing a page plan: for q alone the total is that number;
   * else what a probe finds when there are fewer than `worthKnowing` (more could not make
   * an index plan the cheapest; see indexMatchesWorthKnowing), else undefined: the index
   * plans are then not offered. Never a full count: that would cost as much as the
   * dearest plan.
   */
  planMatches(total: number, worthKnowing: number): number | undefined {
    const { f } = this
    if (f.from === undefined && f.sinceKey === undefined) return total
    if (this.matches?.exact) return this.matches.count < worthKnowing ? this.matches.count : undefined
    if (this.matches !== undefined && this.matches.count >= worthKnowing) return undefined
    return this.fewerMatchesThan(worthKnowing) ? this.matches?.count : undefined
  }

  /** Whether the search index has fewer matches than `limit`, at a cost of at most `limit`. */
  private fewerMatchesThan(limit: number): boolean {
    if (this.matches === undefined || (!this.matches.exact && this.matches.count < limit)) {
      const count = this.reader.indexMatchesUpTo(this.f, this.view, limit)
      this.matches = { count, exact: count < limit }
    }
    return this.matches.exact ? this.matches.count < limit : false
  }

  countPlan(): CountPlan {
    const { f } = this
    if (f.indexed) {
      if (f.from === undefined && f.sinceKey === undefined) return 'index-only'
      // The rows the other filters leave to test, against the index's matches to look up.
      const rows = f.from !== undefined ? (this.senderRows as number) : this.rangeRows()
      if (this.fewerMatchesThan(rows)) return 'index-filtered'
      if (rows > WALK_ROWS_MAX) return 'intersect'
      return f.from !== undefined ? 'sender-rows' : 'scan'
    }
    return f.from !== undefined ? 'sender-rows' : 'scan'
  }
}
