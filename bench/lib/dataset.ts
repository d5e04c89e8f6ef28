import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import { foldCase } from '../../src/domain/text-search.js'
import { timestampSortKey } from '../../src/domain/timestamp.js'
import { searchIndexFile } from '../../src/storage/sqlite/search-index.js'
import { SqliteMessageStore } from '../../src/storage/sqlite/sqlite-store.js'
import { seededRandom } from './seeded-random.js'

export type WordClass = 'common' | 'medium' | 'rare' | 'absent'

export interface PlantedWord {
  wordClass: WordClass
  word: string
  /** Share of texts that contain the word; each text draws independently. */
  share: number
}

/**
 * Words planted at known frequencies, so that search can be timed per selectivity. None of
 * them occurs inside any other word of the vocabulary (checked below), so the share of
 * texts that match `q` is the planted share; the absent word never occurs at all.
 */
export const PLANTED_WORDS: readonly PlantedWord[] = [
  { wordClass: 'common', word: 'order', share: 0.3 },
  { wordClass: 'medium', word: 'refund', share: 0.01 },
  { wordClass: 'rare', word: 'chargeback', share: 0.0001 },
  { wordClass: 'absent', word: 'xylophone', share: 0 },
]

/** Rows per transaction of the bulk load. */
const BATCH_ROWS = 50_000
/** Share of messages without text (media without a caption). */
const NULL_TEXT_SHARE = 0.02
/** Share of timestamps with milliseconds; the rest are whole seconds. */
const FRACTION_SHARE = 0.1
/** Share of messages delivered late, up to LATE_MS after their timestamp. */
const LATE_SHARE = 0.05
const LATE_MS = 10 * 60_000
const START_MS = Date.parse('2025-01-01T00:00:00Z')
const SPAN_MS = 365 * 86_400_000

// The head of the vocabulary, most frequent first: what an inbox of a shop or a service
// reads like. A few non-ASCII words keep the Unicode folding path of `q` busy.
const HEAD_WORDS = (
  'the you i to a and is it for my me your thanks please hi ok we can this be on have that ' +
  'with no yes will just hello of in at what when do are not get thank need today can’t ' +
  'tomorrow call back later where status delivery package payment received invoice address ' +
  'change time meeting confirmed see soon great news stop help code morning evening night ' +
  'week friday monday price pay paid card account number name email phone ticket booking ' +
  'table reservation appointment store shop item size colour return exchange shipping ' +
  'tracking link app login password reset verify new old last next first sure fine sorry ' +
  'problem issue working wait minutes hours day days team support agent customer service ' +
  'still sent send how why there here again already arrived late early address cash ' +
  'discount coupon voucher product quantity available stock café grüße señor déjà naïve ' +
  'привет спасибо 👍 🙏 😊'
).split(' ')

const SYLLABLES = (
  'ka lo mi ren tor sa vel dun pri zo bel cha fen gor hul jin kra lum nix pol qua rix sten ' +
  'tam ulo vin wex yor bri cal dor esk fal gim hap ist jol kev lan mor nal opt pes ris sul ' +
  'tev urn vak wil zan'
).split(' ')

/** Zipf's law over ranks: the word (or sender) of rank k is drawn with weight 1/k^exponent. */
function zipfCumulative(count: number, exponent: number): Float64Array {
  const cumulative = new Float64Array(count)
  let sum = 0
  for (let k = 0; k < count; k++) {
    sum += 1 / (k + 1) ** exponent
    cumulative[k] = sum
  }
  for (let k = 0; k < count; k++) cumulative[k] = (cumulative[k] as number) / sum
  return cumulative
}

function drawRank(cumulative: Float64Array, r: number): number {
  let lo = 0
  let hi = cumulative.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((cumulative[mid] as number) < r) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** True when `word` could make a text match a planted word, by Inlet's folding or by LIKE. */
function containsPlanted(word: string): boolean {
  const folded = foldCase(word)
  const asciiLower = word.replace(/[A-Z]/g, (c) => c.toLowerCase())
  return PLANTED_WORDS.some((p) => folded.includes(p.word) || asciiLower.includes(p.word))
}

export interface Row {
  messageId: string
  from: string
  to: string
  ts: string
  tsKey: string
  text: string | null
  createdAt: string
}

/**
 * Rows of a year of inbox traffic: random UUID message_ids, senders drawn by Zipf's law
 * (a few talk a lot, most a little), four recipients, timestamps rising evenly over 2025
 * with some late deliveries, texts of 1 to 40 words from a Zipf-distributed vocabulary of
 * real and made-up words, plus the planted words.
 */
export class DatasetGenerator {
  readonly vocabulary: string[]
  readonly senders: string[]
  /** Texts that received each planted word, by word. */
  readonly plantedCounts = new Map<string, number>()
  private readonly random: () => number
  private readonly recipients: string[]
  private readonly wordRanks: Float64Array
  private readonly senderRanks: Float64Array

  constructor(
    seed: number,
    private readonly rows: number,
    senderCount: number,
  ) {
    this.random = seededRandom(seed)
    this.vocabulary = this.buildVocabulary(4000)
    this.wordRanks = zipfCumulative(this.vocabulary.length, 1)
    const senders = new Set<string>()
    while (senders.size < senderCount) senders.add(this.msisdn())
    this.senders = [...senders]
    this.senderRanks = zipfCumulative(senderCount, 1)
    this.recipients = Array.from({ length: 4 }, () => this.msisdn())
    for (const p of PLANTED_WORDS) this.plantedCounts.set(p.word, 0)
  }

  /** Row `i` of `rows`: its timestamp sits at i/rows of the year. */
  row(i: number): Row {
    const r = this.random
    const instant = START_MS + Math.floor((SPAN_MS * (i + r())) / this.rows)
    const ms = r() < LATE_SHARE ? instant - Math.floor(r() * LATE_MS) : instant
    const iso = new Date(ms).toISOString()
    const ts = r() < FRACTION_SHARE ? iso : `${iso.slice(0, 19)}Z`
    const tsKey = timestampSortKey(ts)
    if (tsKey === null) throw new Error(`generated an invalid timestamp ${ts}`)
    return {
      messageId: this.uuid(),
      from: this.senders[drawRank(this.senderRanks, r())] as string,
      to: this.recipients[Math.floor(r() * this.recipients.length)] as string,
      ts,
      tsKey,
      text: r() < NULL_TEXT_SHARE ? null : this.text(),
      // The service stamps created_at when it commits, a moment after the message's ts.
      createdAt: new Date(instant + Math.floor(r() * 2000)).toISOString(),
    }
  }

  private buildVocabulary(tailWords: number): string[] {
    const words = new Set(HEAD_WORDS.filter((w) => !containsPlanted(w)))
    const target = words.size + tailWords
    while (words.size < target) {
      let word = ''
      const syllables = 2 + Math.floor(this.random() * 3)
      for (let s = 0; s < syllables; s++) word += SYLLABLES[Math.floor(this.random() * SYLLABLES.length)]
      if (!containsPlanted(word)) words.add(word)
    }
    return [...words]
  }

  private text(): string {
    const r = this.random
    // Mostly short, sometimes long: 1 + an exponential with mean 7, at most 40 words.
    const count = Math.min(40, 1 + Math.floor(-Math.log(1 - r()) * 7))
    const words: string[] = new Array(count)
    for (let w = 0; w < count; w++) words[w] = this.vocabulary[drawRank(this.wordRanks, r())] as string
    for (const p of PLANTED_WORDS) {
      if (p.share > 0 && r() < p.share) {
        words.splice(Math.floor(r() * (words.length + 1)), 0, p.word)
        this.plantedCounts.set(p.word, (this.plantedCounts.get(p.word) as number) + 1)
      }
    }
    const sentence = words.join(' ')
    const end = r()
    const mark = end < 0.5 ? '' : end < 0.75 ? '.' : end < 0.9 ? '?' : '!'
    return `${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}${mark}`
  }

  private msisdn(): string {
    const codes = ['1', '31', '33', '34', '39', '44', '49', '55', '91', '234']
    const cc = codes[Math.floor(this.random() * codes.length)] as string
    let digits = `${1 + Math.floor(this.random() * 9)}`
    for (let i = cc.length; i < 11; i++) digits += Math.floor(this.random() * 10)
    return `+${cc}${digits}`
  }

  private uuid(): string {
    let hex = ''
    for (let i = 0; i < 4; i++) hex += ((this.random() * 2 ** 32) >>> 0).toString(16).padStart(8, '0')
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`
  }
}

export interface BuildOptions {
  file: string
  rows: number
  senders: number
  seed: number
}

/** What bench:data writes next to the database (`<file>.json`), for the reads bench to quote. */
export interface BuildSummary extends BuildOptions {
  seconds: number
  planted: (PlantedWord & { texts: number })[]
}

export function summaryFile(dbFile: string): string {
  return `${dbFile}.json`
}

/** The columns this loader fills; any other column must be nullable or have a default. */
const FILLED_COLUMNS = ['message_id', 'from_msisdn', 'to_msisdn', 'ts', 'ts_key', 'text', 'created_at']

function checkColumns(db: Database.Database): void {
  const columns = db.pragma('table_info(messages)') as {
    name: string
    notnull: number
    dflt_value: unknown
    pk: number
  }[]
  const unfilled = columns.filter(
    (c) => !FILLED_COLUMNS.includes(c.name) && c.notnull === 1 && c.dflt_value === null,
  )
  if (unfilled.length > 0) {
    throw new Error(
      `messages has NOT NULL columns this loader does not fill: ${unfilled.map((c) => c.name).join(', ')}`,
    )
  }
}

/**
 * Builds a database the way the service would hold it: the service's own store creates the
 * schema (its migrations), then rows go in by bulk insert on a separate connection, then
 * the store rebuilds what it derives from `messages` (counters the bulk insert bypassed).
 */
export async function buildDatabase(
  options: BuildOptions,
  progress: (message: string) => void,
): Promise<BuildSummary> {
  const started = performance.now()
  for (const file of [options.file, searchIndexFile(options.file)]) {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true })
  }
  rmSync(summaryFile(options.file), { force: true })

  const schemaStore = await SqliteMessageStore.open({ file: options.file })
  await schemaStore.close()

  const generator = new DatasetGenerator(options.seed, options.rows, options.senders)
  const db = new Database(options.file)
  try {
    // Only for the load: nothing here needs to survive a crash, and a big cache keeps the
    // random message_id index in memory.
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = OFF')
    db.pragma('cache_size = -524288')
    checkColumns(db)
    const insert = db.prepare(
      `INSERT INTO messages (message_id, from_msisdn, to_msisdn, ts, ts_key, text, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`,
    )
    const insertBatch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const row = generator.row(i)
        const result = insert.run(row.messageId, row.from, row.to, row.ts, row.tsKey, row.text, row.createdAt)
        // Would leave the table a row short; with 128 random bits it means a generator bug.
        if (result.changes !== 1) throw new Error(`duplicate message_id ${row.messageId} at row ${i}`)
      }
    })
    const loadStarted = performance.now()
    for (let done = 0; done < options.rows; ) {
      const next = Math.min(options.rows, done + BATCH_ROWS)
      insertBatch(done, next)
      done = next
      const seconds = (performance.now() - loadStarted) / 1000
      progress(
        `  ${done.toLocaleString('en-US')} / ${options.rows.toLocaleString('en-US')} rows, ` +
          `${Math.round(done / seconds).toLocaleString('en-US')} rows/s`,
      )
    }
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }

  progress('  rebuilding derived data (SqliteMessageStore.rebuildDerived) …')
  const store = await SqliteMessageStore.open({ file: options.file })
  try {
    await store.rebuildDerived()
  } finally {
    await store.close()
  }

  const summary: BuildSummary = {
    ...options,
    seconds: (performance.now() - started) / 1000,
    planted: PLANTED_WORDS.map((p) => ({ ...p, texts: generator.plantedCounts.get(p.word) as number })),
  }
  writeFileSync(summaryFile(options.file), `${JSON.stringify(summary, null, 2)}\n`)
  return summary
}

/** The build summary next to `dbFile`, or null for a database bench:data did not build. */
export function readSummary(dbFile: string): BuildSummary | null {
  const file = summaryFile(dbFile)
  if (!existsSync(file)) return null
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as BuildSummary
  } catch {
    return null
  }
}
