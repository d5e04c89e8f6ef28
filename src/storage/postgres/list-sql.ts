import { foldCase } from '../../domain/text-search.js'
import { timestampSortKey } from '../../domain/timestamp.js'
import type { KnownCount } from '../count-cache.js'
import type { MessageQuery } from '../message-store.js'

// The SQL of GET /messages on PostgreSQL: filters, totals and the ways a page is read. The
// store (postgres-store.ts) chooses among them by sizes and runs them.

/** One statement's parameters, numbered as they are added. */
export class Statement {
  readonly params: unknown[] = []

  param(value: unknown): string {
    this.params.push(value)
    return `$${this.params.length}`
  }
}

/** LIKE treats `%`, `_` and `\` specially; q is literal, so they are escaped. */
const likeContaining = (folded: string) => `%${folded.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

/**
 * The query's filters, on the columns messages and message_texts share (so either table can
 * be tested with them). The text test is the contract's: the folded text contains the
 * folded query; message_texts' trigram index answers it for queries of three or more characters.
 */
export function filtersOf(query: MessageQuery, statement: Statement): string[] {
  const filters: string[] = []
  if (query.from !== undefined) filters.push(`from_msisdn = ${statement.param(query.from)}`)
  if (query.since !== undefined) filters.push(`ts_key >= ${statement.param(timestampSortKey(query.since))}`)
  if (query.q !== undefined)
    filters.push(`text_folded LIKE ${statement.param(likeContaining(foldCase(query.q)))}`)
  return filters
}

/** The key a filter's remembered count is kept under: its parameters, as filtersOf adds them. */
export function countKeyOf(query: MessageQuery): string {
  const statement = new Statement()
  filtersOf(query, statement)
  return JSON.stringify(statement.params)
}

/**
 * The feed's head, the deletion epoch and the number of messages, read in the snapshot a
 * count is taken in: what remembering it needs (`FROM store_meta AS meta`).
 */
export const HEAD_COLUMNS = `(SELECT coalesce(max(seq), 0) FROM events) AS head, meta.deletions AS epoch,
  (SELECT coalesce(sum(total), 0) FROM message_totals) AS messages`

/** FROM and WHERE of the messages matching `where` whose message.created event is after feed position `upTo`. */
const committedSince = (statement: Statement, upTo: number, where: string) =>
  `FROM events AS e JOIN messages AS m ON m.message_id = e.message_id
    WHERE e.seq > ${statement.param(upTo)} AND e.type = 'message.created' AND ${where}`

/**
 * The total of a filtered list counted in `table` (messages, or message_texts when q is set
 * and the other filters leave many rows), with HEAD_COLUMNS, to run in the list's own
 * statement (one snapshot). Positions are handed out in commit order (feed-sql.ts): every
 * message up to the head the snapshot sees is visible in it, and every message committed
 * after an earlier snapshot has a later position. So a count remembered at position P, in
 * the same epoch, plus the matches among the messages whose message.created event is after
 * P, is the exact total now; in another epoch (a deletion came between) the CASE counts
 * everything again.
 */
export function rememberedTotalSql(
  query: MessageQuery,
  statement: Statement,
  known: KnownCount | undefined,
  table: 'messages' | 'message_texts',
): string {
  const where = filtersOf(query, statement).join(' AND ')
  const everything = `(SELECT count(*) FROM ${table} WHERE ${where})`
  if (known === undefined) return `SELECT ${everything} AS total, ${HEAD_COLUMNS} FROM store_meta AS meta`
  const since = `(SELECT count(*) ${committedSince(statement, known.upTo, where)})`
  return `SELECT CASE WHEN meta.deletions = ${statement.param(known.epoch)}
      THEN ${statement.param(known.count)}::bigint + ${since} ELSE ${everything} END AS total,
    ${HEAD_COLUMNS} FROM store_meta AS meta`
}

/**
 * How the messages of a page are found:
 * - `rows`: test the rows the filters select without q, through the sender or time index
 *   (messages has no text index); best when those rows are few.
 * - `walk`: walk the ordering index and test each row until the page is full; best when the
 *   matches are dense (a common word).
 * - `matches`: take every match from message_texts' trigram index, read those rows and sort them.
 * - `seqs`: the same, with the matches already in hand (a first request's count kept them).
 * - `kept`: the same, with the matches a remembered count kept and those added since (keptSql).
 */
export type PageSource = { kind: 'rows' | 'walk' | 'matches' | 'kept' } | { kind: 'seqs'; seqs: string[] }

/**
 * The page (one row more than asked tells whether a next page exists) as a SELECT on messages,
 * in the contract's order, after the cursor when there is one.
 */
export function pageSql(query: MessageQuery, statement: Statement, source: PageSource): string {
  const conditions: string[] = []
  if (source.kind === 'matches') {
    const inTexts = filtersOf(query, statement)
    // message_texts has no message_id: the cursor's instant bounds it, the row value below is exact.
    if (query.after !== undefined) inTexts.push(`ts_key >= ${statement.param(query.after.key)}`)
    conditions.push(`seq IN (SELECT seq FROM message_texts WHERE ${inTexts.join(' AND ')})`)
  } else if (source.kind === 'seqs') {
    conditions.push(`seq = ANY(${statement.param(source.seqs)}::bigint[])`)
  } else if (source.kind === 'kept') {
    conditions.push('seq IN (SELECT seq FROM kept UNION ALL SELECT seq FROM added)')
  } else {
    conditions.push(...filtersOf(query, statement))
  }
  if (query.after !== undefined) {
    // A row-value comparison on the (ts_key, message_id) index: a deep page costs what the first does.
    conditions.push(
      `(ts_key, message_id) > (${statement.param(query.after.key)}, ${statement.param(query.after.messageId)})`,
    )
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''
  return `SELECT message_id, from_msisdn, to_msisdn, ts, ts_key, text FROM messages ${where}
    ORDER BY ts_key, message_id LIMIT ${statement.param(query.limit + 1)} OFFSET ${statement.param(query.offset)}`
}

/**
 * The total (a SELECT of one row) and the page in one statement, so both see the same rows;
 * the LEFT JOIN keeps the total when the page is empty.
 */
export const listSql = (totalSql: string, page: string) => `
  SELECT t.*, p.* FROM (${totalSql}) AS t LEFT JOIN LATERAL (${page}) AS p ON true
  ORDER BY p.ts_key, p.message_id`

/**
 * A remembered search whose matches were few enough to keep (KnownCount.seqs), as one
 * statement without the trigram index: `added`, the matches among the messages committed
 * since it was counted (as in rememberedTotalSql); the total, the kept count plus those (after
 * a deletion, the kept seqs still in messages, plus those); the added seqs, to keep them too;
 * HEAD_COLUMNS; and the page read from the kept and added seqs. Seqs are never reused, and a
 * deleted message's row is gone from messages, so the page is exact after deletions too.
 */
export function keptSql(
  query: MessageQuery,
  statement: Statement,
  known: KnownCount & { seqs: string[] },
): string {
  const where = filtersOf(query, statement).join(' AND ')
  const ctes = `kept AS (SELECT unnest(${statement.param(known.seqs)}::bigint[]) AS seq),
    added AS MATERIALIZED (SELECT m.seq ${committedSince(statement, known.upTo, where)})`
  const total = `SELECT CASE WHEN meta.deletions = ${statement.param(known.epoch)}
      THEN ${statement.param(known.count)}::bigint
      ELSE (SELECT count(*) FROM messages WHERE seq IN (SELECT seq FROM kept)) END
      + (SELECT count(*) FROM added) AS total,
    (SELECT array_agg(seq) FROM added) AS added, ${HEAD_COLUMNS} FROM store_meta AS meta`
  return `WITH ${ctes} ${listSql(total, pageSql(query, statement, { kind: 'kept' }))}`
}

/** The sizes a search's plan turns on (see PLAN_SIZES); tests make them small to reach every plan. */
export interface PlanSizes {
  /** A page walks the ordering index when, by the density of its matches, it reads at most this many rows. */
  walkRows: number
  /**
   * The rows a filter without q leaves are tested one by one (the `rows` source) when they
   * are at most this many: a sender's (its counters) or those since `since` (an index probe).
   */
  fewRows: number
  /**
   * A first request counts its matches in one pass and keeps their seqs when they are at
   * most this many: the page is then read from them, without the trigram index again.
   */
  keptRows: number
}

/** Measured on a million messages (bench/RESULTS.md, Reads on PostgreSQL). */
export const PLAN_SIZES: PlanSizes = { walkRows: 20_000, fewRows: 20_000, keptRows: 2_000 }

/** Whether walking the ordering index fills this page within walkRows rows, by what `known` says. */
export function walkPays(
  query: MessageQuery,
  known: Pick<KnownCount, 'count' | 'of'>,
  walkRows: number,
): boolean {
  if (known.count === 0 || known.of === undefined || known.of === 0) return false
  return ((query.offset + query.limit + 1) * known.of) / known.count <= walkRows
}

/**
 * Settings for a walk: the planner, which cannot know how dense a substring's matches are,
 * would otherwise fetch them all and sort them (`enable_sort` off leaves it the index order:
 * 490 ms became 2 ms for a word in 1.6 % of a million texts); no JIT, which the disabled
 * sort's cost would otherwise switch on (100 ms of compiling).
 */
export const WALK_SETTINGS = 'SET LOCAL enable_sort = off; SET LOCAL jit = off'

/**
 * What choosing a search's plan needs, read in its snapshot: HEAD_COLUMNS, the sender's rows
 * when `from` is set, and when `since` is set whether more than fewRows rows are that recent
 * (an index-only probe of at most fewRows entries).
 */
export function searchSizesSql(query: MessageQuery, statement: Statement, fewRows: number): string {
  const columns = [HEAD_COLUMNS]
  if (query.from !== undefined) {
    const from = statement.param(query.from)
    columns.push(`(SELECT coalesce(sum(count), 0) FROM sender_counts WHERE from_msisdn = ${from})
      + (SELECT coalesce(sum(count), 0) FROM sender_totals WHERE from_msisdn = ${from}) AS sender_rows`)
  }
  if (query.since !== undefined) {
    columns.push(`EXISTS (SELECT 1 FROM messages WHERE ts_key >= ${statement.param(timestampSortKey(query.since))}
      ORDER BY ts_key OFFSET ${fewRows} LIMIT 1) AS recent_many`)
  }
  return `SELECT ${columns.join(', ')} FROM store_meta AS meta`
}

/**
 * A first request's count in message_texts, and the matches' seqs when there are at most
 * `keptRows`: one pass over the candidates, where a probe for the few matches and then a count
 * would read them twice (a phrase in 4,296 texts among 38,000 candidates: 77 ms against 43).
 */
export function firstCountSql(query: MessageQuery, statement: Statement, keptRows: number): string {
  return `SELECT count(*) AS total, CASE WHEN count(*) <= ${keptRows} THEN coalesce(array_agg(seq), '{}') END AS seqs
    FROM message_texts WHERE ${filtersOf(query, statement).join(' AND ')}`
}
