// Reads benchmark: each read of Inlet's store port (what GET /messages and GET /stats run)
// against the naive SQL for the same answer, on a database built by `npm run bench:data`.
// Run with `npm run bench:reads -- --db PATH [options]` (`--help` lists them).
import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import {
  BUCKET_KEY_LENGTH,
  type Bucket,
  bucketKeys,
  type TimelinePoint,
  timelinePoints,
} from '../src/domain/timeline.js'
import { timestampSortKey } from '../src/domain/timestamp.js'
import type {
  Message,
  MessagePage,
  MessageQuery,
  MessageStore,
  PagePosition,
  Stats,
} from '../src/storage/message-store.js'
import { PostgresMessageStore } from '../src/storage/postgres/postgres-store.js'
import { SqliteMessageStore } from '../src/storage/sqlite/sqlite-store.js'
import { displayPath, integerOption, parseCli, progress, runMain, UsageError } from './lib/cli.js'
import { type BuildSummary, PLANTED_WORDS, readSummary, type WordClass } from './lib/dataset.js'
import { postgresDataset } from './lib/postgres-dataset.js'
import { describeMachine, markdownTable, median, textTable, writeSection } from './lib/report.js'

const REPO = path.resolve(import.meta.dirname, '..')
const HEADING = '## Reads'
/** GET /messages' default page size. */
const LIMIT = 50

const USAGE = `Usage: npm run bench:reads -- --db PATH [options]

Times each read of Inlet's store (its list, stats and timeline, called directly) against the
naive SQL for the same answer on its own connection, checks that both answers are equal, and
writes the "${HEADING}" section of bench/RESULTS.md ("${HEADING} on PostgreSQL" with
--store postgres).

  --db PATH        database built by npm run bench:data (required; with --store postgres its
                   messages are copied once into the database inlet_bench_<rows>)
  --store NAME     sqlite (default) or postgres
  --database-url U PostgreSQL server for --store postgres (default $TEST_DATABASE_URL, else
                   postgres://postgres@127.0.0.1:5432/test)
  --iterations N   timed runs per read and side (default 10)
  --warmup N       untimed runs per read and side first, the first of which also checks
                   the answers (default 2)
  --out PATH       file whose "${HEADING}" section is replaced (default bench/RESULTS.md;
                   "-" writes nothing)
  --help           this text
`

interface Options {
  db: string
  store: 'sqlite' | 'postgres'
  databaseUrl: string
  iterations: number
  warmup: number
  out: string | null
}

function parseOptions(argv: string[]): Options | null {
  const values = parseCli(argv, {
    db: { type: 'string' },
    store: { type: 'string', default: 'sqlite' },
    'database-url': {
      type: 'string',
      default: process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
    },
    iterations: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    out: { type: 'string', default: path.join(REPO, 'bench', 'RESULTS.md') },
    help: { type: 'boolean', default: false },
  })
  if (values.help === true) return null
  if (values.db === undefined) throw new UsageError('--db is required')
  const db = path.resolve(values.db as string)
  if (!existsSync(db)) throw new UsageError(`--db ${db} does not exist: build it with npm run bench:data`)
  const out = values.out as string
  const store = values.store as string
  if (store !== 'sqlite' && store !== 'postgres') throw new UsageError('--store must be sqlite or postgres')
  return {
    db,
    store,
    databaseUrl: values['database-url'] as string,
    iterations: integerOption('iterations', values.iterations as string, 1),
    warmup: integerOption('warmup', values.warmup as string, 0),
    out: out === '-' ? null : path.resolve(out),
  }
}

/** An answer reduced to what the contract shows, so that two implementations compare equal. */
type Answer = { total: number; data: Message[] } | Stats | { timeline: TimelinePoint[] }

interface ReadCase {
  name: string
  inlet: () => Promise<Answer>
  naive: () => Answer | Promise<Answer>
}

/** The baseline: the same answers, written the obvious way, on the same store's data. */
interface Naive {
  list(query: MessageQuery): Answer | Promise<Answer>
  stats(): Stats | Promise<Stats>
  timeline(bucket: Bucket, buckets: number): TimelinePoint[] | Promise<TimelinePoint[]>
}

interface Timing {
  name: string
  matches: number
  /** Inlet's first run of this read: nothing remembered yet (the counts of exactCount). */
  inletFirstMs: number
  inletMs: number[]
  naiveMs: number[]
  /** null when the answers are equal, else what differs. */
  mismatch: string | null
}

const contract = (m: Message): Message => ({
  message_id: m.message_id,
  from: m.from,
  to: m.to,
  ts: m.ts,
  text: m.text,
})

const pageAnswer = (page: MessagePage): Answer => ({ total: page.total, data: page.data.map(contract) })

const statsAnswer = (stats: Stats): Answer => ({
  total_messages: stats.total_messages,
  senders_count: stats.senders_count,
  messages_per_sender: stats.messages_per_sender.map((c) => ({ from: c.from, count: c.count })),
  first_message_ts: stats.first_message_ts,
  last_message_ts: stats.last_message_ts,
})

/** The same read written the obvious way: LIKE for q, COUNT(*) for the total, OFFSET for paging. */
class NaiveReads implements Naive {
  private readonly statements = new Map<string, Database.Statement>()

  constructor(private readonly db: Database.Database) {}

  list(query: MessageQuery): Answer {
    const where: string[] = []
    const params: unknown[] = []
    if (query.from !== undefined) {
      where.push('from_msisdn = ?')
      params.push(query.from)
    }
    if (query.since !== undefined) {
      where.push('ts_key >= ?')
      params.push(timestampSortKey(query.since))
    }
    if (query.q !== undefined) {
      // LIKE folds ASCII case only and treats % and _ as wildcards: fine for the planted
      // words, which are plain ASCII letters.
      if (!/^[a-z ]+$/.test(query.q)) throw new Error(`naive search supports ASCII letters only: ${query.q}`)
      where.push('text LIKE ?')
      params.push(`%${query.q}%`)
    }
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
    const rows = this.prepare(
      `SELECT message_id, from_msisdn AS "from", to_msisdn AS "to", ts, text FROM messages ${filter}
       ORDER BY ts_key, message_id LIMIT ? OFFSET ?`,
    ).all(...params, query.limit, query.offset) as Message[]
    const total = this.prepare(`SELECT COUNT(*) FROM messages ${filter}`)
      .pluck()
      .get(...params) as number
    return { total, data: rows }
  }

  stats(): Stats {
    const total = this.prepare('SELECT COUNT(*) FROM messages').pluck().get() as number
    const senders = this.prepare('SELECT COUNT(DISTINCT from_msisdn) FROM messages').pluck().get() as number
    const top = this.prepare(
      `SELECT from_msisdn AS "from", COUNT(*) AS count FROM messages
       GROUP BY from_msisdn ORDER BY count DESC, from_msisdn LIMIT 10`,
    ).all() as Stats['messages_per_sender']
    const first = this.prepare('SELECT ts FROM messages ORDER BY ts_key, message_id LIMIT 1').pluck().get()
    const last = this.prepare('SELECT ts FROM messages ORDER BY ts_key DESC, message_id DESC LIMIT 1')
      .pluck()
      .get()
    return {
      total_messages: total,
      senders_count: senders,
      messages_per_sender: top,
      first_message_ts: (first as string | undefined) ?? null,
      last_message_ts: (last as string | undefined) ?? null,
    }
  }

  /** GET /stats/timeline the obvious way: every row grouped by its bucket, the window kept. */
  timeline(bucket: Bucket, buckets: number): TimelinePoint[] {
    const rows = this.prepare(
      `SELECT substr(ts_key, 1, ${BUCKET_KEY_LENGTH[bucket]}) AS key, COUNT(*) AS count FROM messages NOT INDEXED GROUP BY key`,
    ).all() as { key: string; count: number }[]
    const last = rows.at(-1)?.key
    if (last === undefined) return []
    return timelinePoints(bucketKeys(last, bucket, buckets), new Map(rows.map((r) => [r.key, r.count])))
  }

  /** Prepared once, as any client would; preparing is not what is measured. */
  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql)
    if (statement === undefined) {
      statement = this.db.prepare(sql)
      this.statements.set(sql, statement)
    }
    return statement
  }
}

function describeMismatch(inlet: Answer, naive: Answer): string | null {
  if (JSON.stringify(inlet) === JSON.stringify(naive)) return null
  if ('data' in inlet && 'data' in naive) {
    if (inlet.total !== naive.total) return `total ${inlet.total} (Inlet) vs ${naive.total} (naive)`
    const ids = (a: { data: Message[] }) => a.data.map((m) => m.message_id).join(',')
    if (ids(inlet) !== ids(naive))
      return `ids differ: ${ids(inlet).slice(0, 80)} vs ${ids(naive).slice(0, 80)}`
    return 'same ids, different fields'
  }
  const fields = Object.keys(naive) as (keyof typeof naive)[]
  return fields
    .filter((k) => JSON.stringify(inlet[k as keyof typeof inlet]) !== JSON.stringify(naive[k]))
    .map(
      (k) =>
        `${k} ${JSON.stringify(inlet[k as keyof typeof inlet])} (Inlet) vs ${JSON.stringify(naive[k])} (naive)`,
    )
    .join('; ')
}

const matchesOf = (answer: Answer): number => {
  if ('timeline' in answer) return answer.timeline.reduce((sum, point) => sum + point.count, 0)
  return 'data' in answer ? answer.total : answer.total_messages
}

async function timed(run: () => Promise<unknown> | unknown): Promise<number> {
  const started = performance.now()
  await run()
  return performance.now() - started
}

async function measure(read: ReadCase, options: Options): Promise<Timing> {
  const started = performance.now()
  const inletAnswer = await read.inlet()
  const inletFirstMs = performance.now() - started
  const naiveAnswer = await read.naive()
  const timing: Timing = {
    name: read.name,
    matches: matchesOf(naiveAnswer),
    inletFirstMs,
    inletMs: [],
    naiveMs: [],
    mismatch: describeMismatch(inletAnswer, naiveAnswer),
  }
  for (let i = 1; i < options.warmup; i++) {
    await read.inlet()
    await read.naive()
  }
  for (let i = 0; i < options.iterations; i++) {
    // Alternating who goes first, so neither always reads the cache the other just warmed.
    if (i % 2 === 0) {
      timing.inletMs.push(await timed(read.inlet))
      timing.naiveMs.push(await timed(read.naive))
    } else {
      timing.naiveMs.push(await timed(read.naive))
      timing.inletMs.push(await timed(read.inlet))
    }
  }
  return timing
}

/**
 * The naive reads on PostgreSQL: the same SQL as NaiveReads, `text_folded LIKE` for q in
 * message_texts (where its trigram index is), the page's rows read from messages by seq.
 */
class NaivePostgresReads implements Naive {
  private readonly pool: pg.Pool

  constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 1 })
  }

  private async rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query(sql, params)).rows as T[]
  }

  async list(query: MessageQuery): Promise<Answer> {
    const where: string[] = []
    const params: unknown[] = []
    const param = (value: unknown) => `$${params.push(value)}`
    if (query.from !== undefined) where.push(`from_msisdn = ${param(query.from)}`)
    if (query.since !== undefined) where.push(`ts_key >= ${param(timestampSortKey(query.since))}`)
    if (query.q !== undefined) {
      if (!/^[a-z ]+$/.test(query.q)) throw new Error(`naive search supports ASCII letters only: ${query.q}`)
      where.push(`text_folded LIKE ${param(`%${query.q}%`)}`)
    }
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
    const searched = query.q === undefined ? filter : `WHERE seq IN (SELECT seq FROM message_texts ${filter})`
    const [{ total } = { total: 0 }] = await this.rows<{ total: number }>(
      `SELECT count(*)::int AS total FROM ${query.q === undefined ? 'messages' : 'message_texts'} ${filter}`,
      params,
    )
    const data = await this.rows<Message>(
      `SELECT message_id, from_msisdn AS "from", to_msisdn AS "to", ts, text FROM messages ${searched}
       ORDER BY ts_key, message_id LIMIT ${param(query.limit)} OFFSET ${param(query.offset)}`,
      params,
    )
    return { total, data }
  }

  async stats(): Promise<Stats> {
    const [row] = await this.rows<{
      total: number
      senders: number
      first: string | null
      last: string | null
    }>(
      `SELECT count(*)::int AS total, count(DISTINCT from_msisdn)::int AS senders,
         (SELECT ts FROM messages ORDER BY ts_key, message_id LIMIT 1) AS first,
         (SELECT ts FROM messages ORDER BY ts_key DESC, message_id DESC LIMIT 1) AS last
       FROM messages`,
    )
    const top = await this.rows<{ from: string; count: number }>(
      `SELECT from_msisdn AS "from", count(*)::int AS count FROM messages
       GROUP BY from_msisdn ORDER BY count DESC, from_msisdn LIMIT 10`,
    )
    return {
      total_messages: row?.total ?? 0,
      senders_count: row?.senders ?? 0,
      messages_per_sender: top,
      first_message_ts: row?.first ?? null,
      last_message_ts: row?.last ?? null,
    }
  }

  async timeline(bucket: Bucket, buckets: number): Promise<TimelinePoint[]> {
    const rows = await this.rows<{ key: string; count: number }>(
      `SELECT substr(ts_key, 1, ${BUCKET_KEY_LENGTH[bucket]}) AS key, count(*)::int AS count FROM messages
       GROUP BY key ORDER BY key`,
    )
    const last = rows.at(-1)?.key
    if (last === undefined) return []
    return timelinePoints(bucketKeys(last, bucket, buckets), new Map(rows.map((r) => [r.key, r.count])))
  }

  close(): Promise<void> {
    return this.pool.end()
  }
}

/** Nearest rank: with 10 runs the p90 is the 9th fastest. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number
}

function ms(value: number): string {
  return value < 1 ? value.toFixed(3) : value < 10 ? value.toFixed(2) : value.toFixed(1)
}

function times(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)
}

const HEADER = [
  'read',
  'matches',
  'Inlet first ms',
  'Inlet median ms',
  'Inlet p90 ms',
  'naive median ms',
  'naive p90 ms',
  'naive/Inlet',
  'answer',
]

function resultRow(t: Timing): string[] {
  const inlet = median(t.inletMs)
  const naive = median(t.naiveMs)
  return [
    t.name,
    t.matches.toLocaleString('en-US'),
    ms(t.inletFirstMs),
    ms(inlet),
    ms(percentile(t.inletMs, 90)),
    ms(naive),
    ms(percentile(t.naiveMs, 90)),
    times(naive / inlet),
    t.mismatch === null ? 'OK' : 'MISMATCH',
  ]
}

/**
 * The store's keyset position (`next` of the page before, passed back as `after`) for the
 * page that starts at `offset`.
 */
async function cursorAt(store: MessageStore, offset: number): Promise<PagePosition> {
  const position = (await store.list({ limit: LIMIT, offset: offset - LIMIT })).next
  if (position === undefined) throw new Error(`no page after offset ${offset - LIMIT}`)
  return position
}

interface Setup {
  rows: number
  deepOffset: number
  topSender: string
  typicalSender: string
  /** The sender with the fewest messages. */
  rareSender: string
  since: string
  /** The newest 10 % and 50 % of messages. */
  since10: string
  since50: string
  /** Two adjacent words of a few stored texts, lower case. */
  phrases: string[]
}

/** Parameters taken from the data, so that the reads mean the same at any row count. */
function setup(naiveDb: Database.Database): Setup {
  const rows = naiveDb.prepare('SELECT COUNT(*) FROM messages').pluck().get() as number
  if (rows < 2 * LIMIT) throw new UsageError(`the database holds ${rows} rows: build at least ${2 * LIMIT}`)
  const bySender = naiveDb
    .prepare('SELECT from_msisdn FROM messages GROUP BY from_msisdn ORDER BY COUNT(*) DESC, from_msisdn')
    .pluck()
    .all() as string[]
  // The newest 1 % of messages: what "since yesterday" is on a year of traffic.
  const newest = (share: number) =>
    naiveDb
      .prepare('SELECT ts FROM messages ORDER BY ts_key DESC, message_id DESC LIMIT 1 OFFSET ?')
      .pluck()
      .get(Math.floor(rows * share)) as string
  const phrases = (
    naiveDb
      .prepare('SELECT text FROM messages WHERE rowid % ? = 7 AND text IS NOT NULL LIMIT 6')
      .pluck()
      .all(Math.max(1, Math.floor(rows / 6))) as string[]
  )
    .map((text) =>
      text
        .toLowerCase()
        .replace(/[^a-z ]/g, '')
        .split(' ')
        .filter((w) => w.length > 1),
    )
    .filter((words) => words.length >= 2)
    .map((words) => `${words[0]} ${words[1]}`)
  return {
    rows,
    deepOffset: Math.max(LIMIT, Math.floor((rows * 0.9) / LIMIT) * LIMIT),
    topSender: bySender[0] as string,
    typicalSender: bySender[Math.floor(bySender.length / 2)] as string,
    rareSender: bySender.at(-1) as string,
    since: newest(0.01),
    since10: newest(0.1),
    since50: newest(0.5),
    phrases,
  }
}

/**
 * The first-request mix: distinct reads of every shape a person browsing would send,
 * each asked once of a fresh store, so that no count is remembered yet. One- and
 * two-character searches come last, apart: the index cannot serve them.
 */
function coldMix(s: Setup): { name: string; query: MessageQuery; short?: boolean }[] {
  const page = { limit: LIMIT, offset: 0 }
  const w = plantedWord
  const reads: { name: string; query: MessageQuery; short?: boolean }[] = []
  for (const word of [
    w('common'),
    w('medium'),
    w('rare'),
    w('absent'),
    'thanks',
    'package',
    'delivery',
    'booking',
    'price',
    'status',
  ]) {
    reads.push({ name: `q "${word}"`, query: { ...page, q: word } })
  }
  for (const phrase of s.phrases) reads.push({ name: `q "${phrase}"`, query: { ...page, q: phrase } })
  const senders: [string, string][] = [
    ['busiest', s.topSender],
    ['median', s.typicalSender],
    ['rarest', s.rareSender],
  ]
  for (const [label, from] of senders) {
    for (const c of ['common', 'medium', 'rare'] as const) {
      reads.push({ name: `${label} sender + q "${w(c)}"`, query: { ...page, from, q: w(c) } })
    }
  }
  reads.push({ name: 'unknown sender + q', query: { ...page, from: '+99999999999', q: w('common') } })
  reads.push({ name: 'busiest sender + since (1 %)', query: { ...page, from: s.topSender, since: s.since } })
  reads.push({
    name: 'median sender + since (10 %)',
    query: { ...page, from: s.typicalSender, since: s.since10 },
  })
  reads.push({
    name: 'busiest sender + since (50 %)',
    query: { ...page, from: s.topSender, since: s.since50 },
  })
  for (const [label, since] of [
    ['1 %', s.since],
    ['10 %', s.since10],
    ['50 %', s.since50],
  ] as const) {
    for (const c of ['common', 'medium', 'rare'] as const) {
      reads.push({ name: `since (${label}) + q "${w(c)}"`, query: { ...page, since, q: w(c) } })
    }
  }
  reads.push({ name: 'since (50 %)', query: { ...page, since: s.since50 } })
  for (const q of ['e', 'or']) reads.push({ name: `q "${q}" (short)`, query: { ...page, q }, short: true })
  return reads
}

interface ColdTiming {
  name: string
  matches: number
  firstMs: number
  short: boolean
  ok: boolean
}

/** Each read of the mix once, on a store opened for it: the first request of each. */
async function measureColdMix(
  open: () => Promise<MessageStore>,
  naive: Naive,
  s: Setup,
): Promise<ColdTiming[]> {
  const store = await open()
  try {
    const timings: ColdTiming[] = []
    for (const read of coldMix(s)) {
      const started = performance.now()
      const answer = pageAnswer(await store.list(read.query))
      const firstMs = performance.now() - started
      const expected = await naive.list(read.query)
      timings.push({
        name: read.name,
        matches: 'total' in expected ? expected.total : 0,
        firstMs,
        short: read.short === true,
        ok: describeMismatch(answer, expected) === null,
      })
    }
    return timings
  } finally {
    await store.close()
  }
}

const COLD_HEADER = ['first request', 'matches', 'Inlet ms', 'answer']

function coldRows(timings: ColdTiming[]): string[][] {
  return timings.map((t) => [
    t.name,
    t.matches.toLocaleString('en-US'),
    ms(t.firstMs),
    t.ok ? 'OK' : 'MISMATCH',
  ])
}

function coldSummary(timings: ColdTiming[]): string {
  const indexed = timings.filter((t) => !t.short).map((t) => t.firstMs)
  const slowest = timings.filter((t) => !t.short).sort((a, b) => b.firstMs - a.firstMs)[0]
  return (
    `${indexed.length} first requests (short q apart): median ${ms(median(indexed))} ms, ` +
    `slowest ${ms(Math.max(...indexed))} ms (${slowest?.name})`
  )
}

function plantedWord(wordClass: WordClass): string {
  return PLANTED_WORDS.find((p) => p.wordClass === wordClass)?.word as string
}

function headingOf(options: Options): string {
  return options.store === 'postgres' ? `${HEADING} on PostgreSQL` : HEADING
}

function resultsSection(
  argv: string[],
  options: Options,
  s: Setup,
  summary: BuildSummary | null,
  rows: string[][],
  cold: ColdTiming[],
): string {
  const sizeMiB = (statSync(options.db).size / 2 ** 20).toFixed(0)
  const built =
    summary === null
      ? 'not built by bench:data'
      : `built by \`npm run bench:data -- --rows ${summary.rows} --senders ${summary.senders} ` +
        `--seed ${summary.seed}\` in ${summary.seconds.toFixed(1)} s`
  const planted = PLANTED_WORDS.map(
    (p) => `${p.wordClass} "${p.word}" (${p.share === 0 ? 'never' : `${p.share * 100} % of texts`})`,
  ).join(', ')
  const where =
    options.store === 'postgres'
      ? [
          'Inlet: `PostgresMessageStore.list(query)`, `.stats()` and `.timeline()` called directly, in process',
          '(what GET /messages, /stats and /stats/timeline run, without HTTP and JSON), limit 50, on a',
          'PostgreSQL 15 database holding the same messages (copied once through the store, then',
          '`VACUUM ANALYZE`). Naive: the plain SQL for the same answer on its own connection:',
          "`text_folded LIKE '%word%'` on `message_texts` (its trigram index; the page's rows then read from",
          '`messages` by seq), a `count(*)` with the same filters for the total, `OFFSET` for deep pages,',
          '`count(DISTINCT …)`, `GROUP BY from_msisdn` and `ORDER BY … LIMIT 1` for stats; with parallel',
          "workers (Inlet's statements run without). Both read a warm buffer cache.",
        ]
      : [
          'Inlet: `SqliteMessageStore.list(query)`, `.stats()` and `.timeline()` called directly, in process',
          '(what GET /messages, /stats and /stats/timeline run, without HTTP and JSON), limit 50. Naive: the',
          "plain SQL for the same answer on its own better-sqlite3 connection: `text LIKE '%word%'`, a",
          '`COUNT(*)` with the same filters for the total, `OFFSET` for deep pages, `COUNT(DISTINCT …)`,',
          '`GROUP BY from_msisdn` and `ORDER BY … LIMIT 1` for stats. Both read a warm page cache.',
        ]
  return [
    headingOf(options),
    '',
    `\`npm run bench:reads${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}\`: ` +
      `${s.rows.toLocaleString('en-US')} messages, ${sizeMiB} MiB SQLite file`,
    `(${built});`,
    `${options.iterations} timed runs per read and side after ${options.warmup} warm-up run(s), the two sides alternating.`,
    '',
    ...describeMachine(path.dirname(options.db)),
    '',
    ...where,
    'matches: the total (stats: every message; timeline: the messages in its window). answer: OK when',
    'both return the same messages in the same order and the same total.',
    "Inlet first ms: the read's first run, before the store remembers any count for it; the medians",
    'repeat the read on an unchanged database, so filtered totals come from the remembered count.',
    `Search words: ${planted}.`,
    'Senders: the busiest, and the median one by message count. The cursor row pages with the',
    "store's keyset position (`after`), taken from the page before it; naive pages there by `OFFSET`.",
    '',
    markdownTable(rows, HEADER),
    '',
    '### First requests',
    '',
    'Each read of this mix asked once of a store opened for the purpose (nothing remembered yet, a',
    'warm OS page cache), in this order; the answers compared with the naive SQL as above. Short q',
    '(one or two characters, which the trigram index cannot serve) are listed apart from the summary.',
    '',
    markdownTable(coldRows(cold), COLD_HEADER),
    '',
    `**${coldSummary(cold)}**`,
    '',
  ].join('\n')
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv)
  if (options === null) {
    process.stdout.write(USAGE)
    return 0
  }
  const summary = readSummary(options.db)
  // A store first: it migrates a database built by an older version before anything reads.
  await (await SqliteMessageStore.open({ file: options.db })).close()
  const naiveDb = new Database(options.db, { readonly: true, fileMustExist: true })
  // PostgreSQL: the same messages, copied once; each side reads them on its own connections.
  const pgUrl =
    options.store === 'postgres' ? (await postgresDataset(options.databaseUrl, options.db)).url : null
  const open = (): Promise<MessageStore> =>
    pgUrl === null ? SqliteMessageStore.open({ file: options.db }) : PostgresMessageStore.open({ url: pgUrl })
  const naivePg = pgUrl === null ? null : new NaivePostgresReads(pgUrl)
  let store: MessageStore | undefined
  try {
    const naive: Naive = naivePg ?? new NaiveReads(naiveDb)
    progress(`reading ${displayPath(options.db)} …`)
    const s = setup(naiveDb)
    progress('first requests of a mix of distinct reads, on a fresh store …')
    const cold = await measureColdMix(open, naive, s)
    for (const t of cold)
      progress(`  ${t.name}: ${t.matches} matches, ${ms(t.firstMs)} ms, ${t.ok ? 'OK' : 'MISMATCH'}`)
    progress(`  ${coldSummary(cold)}`)
    const opened = await open()
    store = opened
    const deep = s.deepOffset.toLocaleString('en-US')
    const cursor = await cursorAt(opened, s.deepOffset)

    const listCase = (name: string, query: MessageQuery): ReadCase => ({
      name,
      inlet: async () => pageAnswer(await opened.list(query)),
      naive: () => naive.list(query),
    })
    const page = { limit: LIMIT, offset: 0 }
    const q = (wordClass: WordClass) => ({ ...page, q: plantedWord(wordClass) })
    const reads: ReadCase[] = [
      listCase('page 1', page),
      listCase(`page at offset ${deep}`, { limit: LIMIT, offset: s.deepOffset }),
      {
        name: `page at offset ${deep} via cursor`,
        inlet: async () => pageAnswer(await opened.list({ ...page, after: cursor })),
        naive: () => naive.list({ limit: LIMIT, offset: s.deepOffset }),
      },
      listCase(`since ${s.since} (newest 1 %)`, { ...page, since: s.since }),
      listCase(`q common "${plantedWord('common')}"`, q('common')),
      listCase(`q medium "${plantedWord('medium')}"`, q('medium')),
      listCase(`q rare "${plantedWord('rare')}"`, q('rare')),
      listCase(`q absent "${plantedWord('absent')}"`, q('absent')),
      listCase('from busiest sender', { ...page, from: s.topSender }),
      listCase('from median sender', { ...page, from: s.typicalSender }),
      listCase(`from busiest sender + q "${plantedWord('common')}"`, {
        ...q('common'),
        from: s.topSender,
      }),
      { name: 'stats', inlet: async () => statsAnswer(await opened.stats()), naive: () => naive.stats() },
      {
        name: 'stats timeline, 30 days',
        inlet: async () => ({ timeline: await opened.timeline('day', 30) }),
        naive: async () => ({ timeline: await naive.timeline('day', 30) }),
      },
      {
        name: 'stats timeline, 48 hours',
        inlet: async () => ({ timeline: await opened.timeline('hour', 48) }),
        naive: async () => ({ timeline: await naive.timeline('hour', 48) }),
      },
    ]

    const timings: Timing[] = []
    const rows: string[][] = []
    for (const read of reads) {
      const timing = await measure(read, options)
      timings.push(timing)
      rows.push(resultRow(timing))
      const [, matches, inletMs, , naiveMs, , ratio, answer] = resultRow(timing)
      progress(
        `  ${read.name}: ${matches} matches, Inlet ${inletMs} ms, naive ${naiveMs} ms, ×${ratio}, ${answer}`,
      )
    }

    process.stdout.write(`\n${textTable(rows, HEADER)}\n\n`)
    process.stdout.write(`${textTable(coldRows(cold), COLD_HEADER)}\n${coldSummary(cold)}\n\n`)
    const mismatches = [
      ...timings.filter((t) => t.mismatch !== null),
      ...cold
        .filter((t) => !t.ok)
        .map((t) => ({ name: `first request ${t.name}`, mismatch: 'answers differ' })),
    ]
    for (const t of mismatches) process.stderr.write(`MISMATCH: ${t.name}: ${t.mismatch}\n`)
    if (mismatches.length > 0) {
      // Timings of a wrong answer are not results: RESULTS.md keeps its last good section.
      process.stderr.write(`MISMATCH in ${mismatches.length} read(s); ${headingOf(options)} not written\n`)
      return 1
    }
    if (options.out !== null) {
      writeSection(options.out, resultsSection(argv, options, s, summary, rows, cold), headingOf(options))
      process.stdout.write(`wrote the "${headingOf(options)}" section of ${displayPath(options.out)}\n`)
    }
    return 0
  } finally {
    naiveDb.close()
    await naivePg?.close()
    await store?.close()
  }
}

await runMain(main, USAGE)
