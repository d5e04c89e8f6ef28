// Mixed-load benchmark: open-loop webhooks at a fixed rate, with and without one client
// browsing the read API, on a fresh database and on a copy of a large one. Latency counts
// from each request's scheduled send time, so a stall counts against every request it
// delays. Run with `npm run bench:mixed -- [options]` (`--help` lists them).

import { spawn } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import { SERVER_NODE_FLAGS } from '../src/runtime.js'
import { searchIndexFile } from '../src/storage/sqlite/search-index.js'
import { MessageFactory } from './lib/bodies.js'
import { displayPath, integerOption, parseCli, progress, runMain, UsageError } from './lib/cli.js'
import { PLANTED_WORDS } from './lib/dataset.js'
import { followStream, startForwardReceiver } from './lib/feed-consumers.js'
import { loadAgent, maximum, percentile, send } from './lib/http-load.js'
import { createSchema, dropSchema } from './lib/postgres.js'
import { cloneDataset } from './lib/postgres-dataset.js'
import {
  freePort,
  HarnessError,
  killLiveChildren,
  LOAD_CORE,
  peakRssKiB,
  pinSelfToLoadCore,
  startServer,
  stopServer,
  track,
} from './lib/processes.js'
import { describeMachine, markdownTable, writeSection } from './lib/report.js'
import { seededRandom } from './lib/seeded-random.js'

const REPO = path.resolve(import.meta.dirname, '..')

const USAGE = `Usage: npm run bench:mixed -- [options]

Sends signed webhooks open-loop at --rate per second (latency counted from each request's
scheduled send time) to one server pinned to core 0, from core 1, and in some runs one
client browsing the read API at the same time (varied searches, sender pages, stats: one
request at a time, 100 ms apart). Runs, in this order: the bare-Fastify ceiling at the same
rate (the baseline), then Inlet on a fresh database and on a copy of --db, each without and
with the browsing client, and on the copy with a client exporting it whole again and again
(GET /export), and on the copy while RETENTION_DAYS has the retention job delete its older
half (500,000 rows of a million); then, on a fresh database, with forwarding on (to a local
receiver) and one client following /events/stream, open loop and closed loop (--concurrency
senders as fast as answers come), each against the same run without them. Writes the
"## Mixed load" section of bench/RESULTS.md (or "## Mixed load on PostgreSQL").

  --rate R         webhooks per second (default 1000)
  --duration S     measured seconds per run (default 20)
  --warmup S       seconds of webhooks first in each run, not counted (default 3)
  --db PATH        a database built by npm run bench:data, copied for each run that uses it
                   (default bench/out/reads-1000000.db; "none" skips those runs)
  --store NAME     sqlite (default) or postgres (fresh schemas; --db copied once into the
                   database inlet_bench_<rows>, then cloned for each run that uses it)
  --database-url U PostgreSQL server for --store postgres (default $TEST_DATABASE_URL,
                   else postgres://postgres@127.0.0.1:5432/test)
  --concurrency C  senders of the closed-loop runs (default 32)
  --only TEXT      only the ceiling and the runs whose name contains TEXT (with --out -)
  --out PATH       file whose section is replaced (default bench/RESULTS.md; "-" none)
  --help           this text
`

interface Options {
  rate: number
  durationS: number
  warmupS: number
  db: string | null
  store: 'sqlite' | 'postgres'
  databaseUrl: string
  out: string | null
  concurrency: number
  /** Only the ceiling and the runs whose name contains this (exploration; use with --out -). */
  only: string | null
}

interface Scenario {
  name: string
  server: 'ceiling' | 'inlet'
  data: 'fresh' | 'large'
  browsing: boolean
  /** One client exporting every message (GET /export) again and again, as fast as it reads. */
  exporting: boolean
  /** Forwarding to a local receiver on, and one client following /events/stream. */
  attached: boolean
  /** RETENTION_DAYS set so that the older half of the large copy is deleted while webhooks arrive. */
  retention?: boolean
  /** open: --rate per second from the schedule; closed: --concurrency senders, each waiting for its answer. */
  loop: 'open' | 'closed'
}

/** How long a run with consumers waits, after its last webhook, for them to receive everything. */
const DRAIN_TIMEOUT_MS = 120_000

interface Result {
  scenario: Scenario
  webhooks: number
  webhookErrors: number
  webhookMs: number[]
  reads: number
  readErrors: number
  readMs: number[]
  /** The slowest reads: path, milliseconds, status. */
  slowestReads: { path: string; ms: number; status: number }[]
  peakRssMiB: number
  /** Webhooks answered 200 while measured. */
  acknowledged: string[]
  /** Acknowledged webhooks missing from the database afterwards (SQLite runs). */
  missing: number | null
  /** Measured seconds (the loop's, not the drain's). */
  measuredS: number
  /** From each acknowledged webhook's send time to its arrival at the forwarding receiver / the SSE client. */
  deliveryLagMs: number[]
  streamLagMs: number[]
  /** Seconds after the last webhook until both consumers had every acknowledged message (null: never). */
  drainedAfterS: number | null
  /** Messages the retention job deleted by the end of the run (retention runs), and when it had deleted all of them. */
  retentionDeleted: number | null
}

/** The large dataset's timestamps rise evenly over 2025 (lib/dataset.ts): the older half is before this. */
const RETENTION_CUTOFF_MS = Date.parse('2025-07-02T12:00:00Z')

/** What the browsing client asks about: words and senders that exist in the data. */
interface Vocabulary {
  words: { common: string; medium: string; rare: string; absent: string; phrase: string }
  senders: { busy: string; median: string; rare: string; absent: string }
  since: string
}

function parseOptions(argv: string[]): Options | null {
  const values = parseCli(argv, {
    rate: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    db: { type: 'string', default: path.join(REPO, 'bench', 'out', 'reads-1000000.db') },
    store: { type: 'string', default: 'sqlite' },
    'database-url': {
      type: 'string',
      default: process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
    },
    out: { type: 'string', default: path.join(REPO, 'bench', 'RESULTS.md') },
    concurrency: { type: 'string', default: '32' },
    only: { type: 'string' },
    help: { type: 'boolean', default: false },
  })
  if (values.help === true) return null
  const store = values.store as string
  if (store !== 'sqlite' && store !== 'postgres') throw new UsageError(`--store must be sqlite or postgres`)
  const db = values.db === 'none' ? null : path.resolve(values.db as string)
  if (db !== null && !existsSync(db)) {
    throw new UsageError(`--db ${db} does not exist: build it with npm run bench:data -- --rows 1000000`)
  }
  return {
    rate: integerOption('rate', values.rate as string, 1),
    durationS: integerOption('duration', values.duration as string, 1),
    warmupS: integerOption('warmup', values.warmup as string, 0),
    db,
    store,
    databaseUrl: values['database-url'] as string,
    out: values.out === '-' ? null : path.resolve(values.out as string),
    concurrency: integerOption('concurrency', values.concurrency as string, 1),
    only: typeof values.only === 'string' ? values.only : null,
  }
}

/** The busiest, median and rarest of `senders` (busiest first), and one that never wrote. */
function sendersOf(senders: string[]): Vocabulary['senders'] {
  return {
    busy: senders[0] as string,
    median: senders[Math.floor(senders.length / 2)] as string,
    rare: senders.at(-1) as string,
    absent: '+99999999999',
  }
}

/** The large database's busiest, median and rarest senders, its planted words, its newest 1 %. */
function vocabularyOf(file: string): Vocabulary {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    const senders = db
      .prepare('SELECT from_msisdn FROM sender_counts ORDER BY count DESC, from_msisdn')
      .pluck()
      .all() as string[]
    const total = db.prepare('SELECT total FROM message_totals').pluck().get() as number
    const since = db
      .prepare(
        'SELECT ts FROM messages INDEXED BY messages_by_time ORDER BY ts_key DESC, message_id DESC LIMIT 1 OFFSET ?',
      )
      .pluck()
      .get(Math.floor(total / 100)) as string
    const word = (c: string) => PLANTED_WORDS.find((p) => p.wordClass === c)?.word as string
    return {
      words: {
        common: word('common'),
        medium: word('medium'),
        rare: word('rare'),
        absent: word('absent'),
        phrase: 'thanks please',
      },
      senders: sendersOf(senders),
      since,
    }
  } finally {
    db.close()
  }
}

/** A fresh database fills with MessageFactory's traffic: its words and senders. */
function freshVocabulary(factory: MessageFactory): Vocabulary {
  const senders = factory.senders
  return {
    words: {
      common: 'order',
      medium: 'refund',
      rare: 'invoice address',
      absent: 'xylophone',
      phrase: 'call me back',
    },
    senders: sendersOf(senders),
    since: '2025-09-01T00:05:00Z',
  }
}

/** The browsing client's requests: every shape of read, cycled in a seeded random order. */
function browsingPaths(v: Vocabulary): string[] {
  const e = encodeURIComponent
  const { words: w, senders: s } = v
  const paths = [
    '/stats',
    '/messages',
    '/messages?offset=500',
    `/messages?q=${e(w.common)}`,
    `/messages?q=${e(w.medium)}`,
    `/messages?q=${e(w.rare)}`,
    `/messages?q=${e(w.absent)}`,
    `/messages?q=${e(w.phrase)}`,
    `/messages?q=${e(w.common)}&offset=200`,
    `/messages?from=${e(s.busy)}`,
    `/messages?from=${e(s.median)}`,
    `/messages?from=${e(s.rare)}`,
    `/messages?from=${e(s.absent)}`,
    `/messages?from=${e(s.busy)}&q=${e(w.common)}`,
    `/messages?from=${e(s.busy)}&q=${e(w.rare)}`,
    `/messages?from=${e(s.median)}&q=${e(w.medium)}`,
    `/messages?from=${e(s.rare)}&q=${e(w.common)}`,
    `/messages?since=${e(v.since)}`,
    `/messages?since=${e(v.since)}&q=${e(w.common)}`,
    `/messages?since=${e(v.since)}&q=${e(w.medium)}`,
    `/messages?from=${e(s.busy)}&since=${e(v.since)}`,
  ]
  const next = seededRandom(5)
  return paths
    .map((p) => ({ p, k: next() }))
    .sort((a, b) => a.k - b.k)
    .map(({ p }) => p)
}

async function runScenario(scenario: Scenario, options: Options, workDir: string): Promise<Result> {
  const runDir = mkdtempSync(path.join(workDir, 'run-'))
  const secret = randomBytes(24).toString('hex')
  const factory = new MessageFactory(11, '2025-09-01T00:00:00Z')
  let vocabulary = freshVocabulary(factory)
  const env: Record<string, string> = {
    WEBHOOK_SECRET: secret,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'WARN', // the access lines' cost is the same in every run; their volume is not the point
  }
  const receiver = scenario.attached ? await startForwardReceiver() : null
  if (receiver !== null) {
    env.FORWARD_URL = receiver.url
    env.FORWARD_SECRET = `whsec_${randomBytes(24).toString('base64')}`
  }
  let cleanup = async () => {}
  let sqliteFile: string | null = null
  if (
    scenario.server === 'inlet' &&
    options.store === 'postgres' &&
    scenario.data === 'large' &&
    options.db
  ) {
    const clone = await cloneDataset(options.databaseUrl, options.db, 'inlet_mixed')
    env.DATABASE_URL = clone.url
    cleanup = clone.drop
    vocabulary = vocabularyOf(options.db)
  } else if (scenario.server === 'inlet' && options.store === 'postgres') {
    const { schema, databaseUrl } = await createSchema(options.databaseUrl, 'inlet_mixed')
    env.DATABASE_URL = databaseUrl
    cleanup = () => dropSchema(options.databaseUrl, schema)
  } else if (scenario.server === 'inlet') {
    sqliteFile = path.join(runDir, 'app.db')
    if (scenario.data === 'large' && options.db !== null) {
      // The messages and their search index (both closed cleanly by bench:data: no WAL),
      // flushed to disk before the run: the writeback of half a gigabyte of fresh copies
      // would otherwise compete with the run's fsyncs.
      for (const [from, to] of [
        [options.db, sqliteFile],
        [searchIndexFile(options.db), searchIndexFile(sqliteFile)],
      ] as const) {
        copyFileSync(from, to)
        const fd = openSync(to, 'r+')
        fsyncSync(fd)
        closeSync(fd)
      }
      vocabulary = vocabularyOf(sqliteFile)
    }
    env.DATABASE_URL = `sqlite:///${sqliteFile}`
  }
  if (scenario.retention) {
    env.RETENTION_DAYS = String(Math.floor((Date.now() - RETENTION_CUTOFF_MS) / 86_400_000))
  }
  const port = await freePort()
  env.PORT = String(port)
  const server = await startServer({
    name: scenario.server,
    args:
      scenario.server === 'ceiling'
        ? [path.join(REPO, 'bench', 'ceiling-server.mjs')]
        : [...SERVER_NODE_FLAGS, path.join(REPO, 'dist', 'server.js')],
    env,
    port,
    logFile: path.join(runDir, 'server.log'),
    cwd: REPO,
  })
  const stream = scenario.attached ? followStream(port) : null
  try {
    const sentAt = new Map<string, number>()
    const result = await drive(port, scenario, options, secret, factory, vocabulary, sentAt)
    if (receiver !== null && stream !== null) {
      const finished = performance.now()
      const all = (arrivals: Map<string, number>) => result.acknowledged.every((id) => arrivals.has(id))
      while (
        !(all(receiver.arrivals) && all(stream.arrivals)) &&
        performance.now() - finished < DRAIN_TIMEOUT_MS
      ) {
        await sleep(20)
      }
      result.drainedAfterS =
        all(receiver.arrivals) && all(stream.arrivals) ? (performance.now() - finished) / 1000 : null
      const lags = (arrivals: Map<string, number>) =>
        result.acknowledged.flatMap((id) => {
          const at = arrivals.get(id)
          return at === undefined ? [] : [at - (sentAt.get(id) as number)]
        })
      result.deliveryLagMs = lags(receiver.arrivals)
      result.streamLagMs = lags(stream.arrivals)
      await stream.close()
    }
    result.peakRssMiB = peakRssKiB(server.pid) / 1024
    if (scenario.retention) result.retentionDeleted = await deletedByRetention(port)
    const exit = await stopServer(server)
    if (exit !== 0) throw new HarnessError(`${scenario.name}: the server exited with ${exit}`)
    if (sqliteFile !== null) result.missing = countMissing(sqliteFile, result.acknowledged)
    return result
  } finally {
    await stream?.close()
    receiver?.close()
    killLiveChildren()
    await cleanup()
    rmSync(runDir, { recursive: true, force: true })
  }
}

async function drive(
  port: number,
  scenario: Scenario,
  options: Options,
  secret: string,
  factory: MessageFactory,
  vocabulary: Vocabulary,
  sentAt: Map<string, number>,
): Promise<Result> {
  const agent = loadAgent()
  const result: Result = {
    scenario,
    webhooks: 0,
    webhookErrors: 0,
    webhookMs: [],
    reads: 0,
    readErrors: 0,
    readMs: [],
    slowestReads: [],
    peakRssMiB: 0,
    acknowledged: [],
    missing: null,
    measuredS: options.durationS,
    deliveryLagMs: [],
    streamLagMs: [],
    drainedAfterS: null,
    retentionDeleted: null,
  }
  const intervalMs = 1000 / options.rate
  const startedAt = performance.now()
  const measureFrom = startedAt + options.warmupS * 1000
  const endAt = measureFrom + options.durationS * 1000
  const inFlight = new Set<Promise<void>>()

  // The browsing client: one read at a time, 100 ms after the last answer, measured runs only.
  const paths = browsingPaths(vocabulary)
  const browsing = (async () => {
    if (!scenario.browsing || scenario.server === 'ceiling') return
    await sleep(Math.max(0, measureFrom - performance.now()))
    for (let i = 0; performance.now() < endAt; i++) {
      const started = performance.now()
      const path = paths[i % paths.length] as string
      const status = await send(agent, port, 'GET', path)
      const took = performance.now() - started
      result.reads += 1
      result.readMs.push(took)
      if (status !== 200) result.readErrors += 1
      result.slowestReads.push({ path, ms: took, status })
      result.slowestReads.sort((a, b) => b.ms - a.ms).splice(3)
      await sleep(100)
    }
  })()

  // The export client: whole exports back to back, each counted as one read, from a
  // process of its own on the load core (see export-client.mjs).
  const exporting = (async () => {
    if (!scenario.exporting) return
    await sleep(Math.max(0, measureFrom - performance.now()))
    const until = Date.now() + (endAt - performance.now())
    const client = spawn(
      'taskset',
      [
        '-c',
        LOAD_CORE,
        process.execPath,
        path.join(REPO, 'bench', 'lib', 'export-client.mjs'),
        String(port),
        String(until),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let output = ''
    client.stdout.on('data', (chunk) => {
      output += chunk
    })
    const exited = track(client)
    await once(client.stdout, 'end')
    const code = await exited
    if (code !== 0) throw new HarnessError(`the export client exited with ${code}`)
    for (const line of output.split('\n').filter((l) => l !== '')) {
      const { ms: took, status } = JSON.parse(line) as { ms: number; status: number }
      result.reads += 1
      result.readMs.push(took)
      if (status !== 200) result.readErrors += 1
      result.slowestReads.push({ path: '/export?format=ndjson', ms: took, status })
    }
    result.slowestReads.sort((a, b) => b.ms - a.ms).splice(3)
  })()

  const post = (scheduled: number) => {
    const m = factory.next()
    const body = JSON.stringify(m)
    const signature = createHmac('sha256', secret).update(body).digest('hex')
    sentAt.set(m.message_id, scheduled)
    return send(agent, port, 'POST', '/webhook', body, {
      'content-type': 'application/json',
      'x-signature': signature,
    }).then((status) => {
      if (scheduled < measureFrom) return
      result.webhooks += 1
      result.webhookMs.push(performance.now() - scheduled)
      if (status !== 200) result.webhookErrors += 1
      else result.acknowledged.push(m.message_id)
    })
  }
  if (scenario.loop === 'closed') {
    // Closed loop: each sender sends its next webhook when the last one is answered.
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (performance.now() < endAt) await post(performance.now())
      }),
    )
    await Promise.all([browsing, exporting])
    agent.destroy()
    return result
  }
  // Open loop: each tick sends what the schedule owes by now, whether or not answers came.
  for (let sent = 0; ; ) {
    const now = performance.now()
    if (now >= endAt) break
    while (startedAt + sent * intervalMs <= now) {
      const scheduled = startedAt + sent * intervalMs
      sent += 1
      const done = post(scheduled)
      inFlight.add(done)
      void done.finally(() => inFlight.delete(done))
    }
    await sleep(1)
  }
  await Promise.all([...inFlight, browsing, exporting])
  agent.destroy()
  return result
}

async function deletedByRetention(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith('messages_deleted_total{reason="retention"} '))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}

function countMissing(file: string, ids: string[]): number {
  const db = new Database(file, { readonly: true })
  try {
    const has = db.prepare('SELECT 1 FROM messages WHERE message_id = ?').pluck()
    return ids.filter((id) => has.get(id) === undefined).length
  } finally {
    db.close()
  }
}

const slowest = (r: Result) =>
  r.slowestReads.map((s) => `${s.path} ${ms(s.ms)} ms${s.status === 200 ? '' : ` (${s.status})`}`).join(', ')

const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1))

const HEADER = [
  'run',
  'webhooks',
  'errors',
  'p50 ms',
  'p99 ms',
  'p999 ms',
  'max ms',
  'p99 / ceiling p99',
  'reads',
  'read errors',
  'read p50 ms',
  'read p99 ms',
  'read max ms',
  'peak RSS MiB',
  'acknowledged, missing',
]

function row(r: Result, ceilingP99: number): string[] {
  const w = r.webhookMs
  const reads = (r.scenario.browsing || r.scenario.exporting) && r.scenario.server === 'inlet'
  return [
    r.scenario.name,
    String(r.webhooks),
    String(r.webhookErrors),
    ms(percentile(w, 50)),
    ms(percentile(w, 99)),
    ms(percentile(w, 99.9)),
    ms(maximum(w)),
    r.scenario.server === 'ceiling' ? '1' : (percentile(w, 99) / ceilingP99).toFixed(2),
    reads ? String(r.reads) : '-',
    reads ? String(r.readErrors) : '-',
    reads ? ms(percentile(r.readMs, 50)) : '-',
    reads ? ms(percentile(r.readMs, 99)) : '-',
    reads ? ms(maximum(r.readMs)) : '-',
    r.peakRssMiB.toFixed(0),
    r.missing === null ? '-' : `${r.acknowledged.length}, ${r.missing}`,
  ]
}

const FORWARDING_HEADER = [
  'run',
  'acknowledged/s',
  'vs without consumers',
  'p99 ms',
  'delivery lag p50 ms',
  'delivery lag p99 ms',
  'delivery lag max ms',
  'SSE lag p50 ms',
  'SSE lag p99 ms',
  'drained after s',
]

/** The runs with consumers, each beside the same run (loop and data) without them. */
function forwardingTable(results: Result[]): string[][] {
  const rate = (r: Result) => r.acknowledged.length / r.measuredS
  return results
    .filter((r) => r.scenario.attached)
    .flatMap((r) => {
      const base = results.find(
        (b) =>
          !b.scenario.attached &&
          !b.scenario.browsing &&
          b.scenario.server === 'inlet' &&
          b.scenario.data === r.scenario.data &&
          b.scenario.loop === r.scenario.loop,
      )
      if (base === undefined) return []
      const line = (x: Result, consumers: boolean) => [
        x.scenario.name,
        rate(x).toFixed(0),
        consumers ? (rate(x) / rate(base)).toFixed(3) : '1',
        ms(percentile(x.webhookMs, 99)),
        consumers ? ms(percentile(x.deliveryLagMs, 50)) : '-',
        consumers ? ms(percentile(x.deliveryLagMs, 99)) : '-',
        consumers ? ms(maximum(x.deliveryLagMs)) : '-',
        consumers ? ms(percentile(x.streamLagMs, 50)) : '-',
        consumers ? ms(percentile(x.streamLagMs, 99)) : '-',
        consumers ? (x.drainedAfterS === null ? 'not in 120 s' : x.drainedAfterS.toFixed(2)) : '-',
      ]
      return [line(base, false), line(r, true)]
    })
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv)
  if (options === null) {
    process.stdout.write(USAGE)
    return 0
  }
  if (!existsSync(path.join(REPO, 'dist', 'server.js'))) throw new UsageError('run npm run build first')
  pinSelfToLoadCore()
  const scenarios: Scenario[] = [
    {
      name: 'ceiling',
      server: 'ceiling',
      data: 'fresh',
      browsing: false,
      exporting: false,
      attached: false,
      loop: 'open',
    },
  ]
  const datasets: ('fresh' | 'large')[] = options.db === null ? ['fresh'] : ['fresh', 'large']
  for (const data of datasets) {
    const label = data === 'fresh' ? 'fresh database' : `${displayPath(options.db as string)} copy`
    scenarios.push({
      name: `Inlet, ${label}`,
      server: 'inlet',
      data,
      browsing: false,
      exporting: false,
      attached: false,
      loop: 'open',
    })
    scenarios.push({
      name: `Inlet, ${label}, browsing client`,
      server: 'inlet',
      data,
      browsing: true,
      exporting: false,
      attached: false,
      loop: 'open',
    })
  }
  // An export of the large database while webhooks arrive, against the same run without it.
  if (options.db !== null) {
    scenarios.push({
      name: `Inlet, ${displayPath(options.db)} copy, export client`,
      server: 'inlet',
      data: 'large',
      browsing: false,
      exporting: true,
      attached: false,
      loop: 'open',
    })
  }
  // A retention run deleting the older half of the large copy (500,000 rows of a million)
  // while webhooks arrive, against the same run without it.
  if (options.db !== null) {
    scenarios.push({
      name: `Inlet, ${displayPath(options.db)} copy, retention deleting its older half`,
      server: 'inlet',
      data: 'large',
      browsing: false,
      exporting: false,
      attached: false,
      loop: 'open',
      retention: true,
    })
  }
  // Forwarding and a stream client against the same runs without them.
  const fresh = { server: 'inlet', data: 'fresh', browsing: false, exporting: false } as const
  scenarios.push(
    { ...fresh, name: 'Inlet, fresh database, forwarding + SSE client', attached: true, loop: 'open' },
    { ...fresh, name: 'Inlet, fresh database, closed loop', attached: false, loop: 'closed' },
    {
      ...fresh,
      name: 'Inlet, fresh database, closed loop, forwarding + SSE client',
      attached: true,
      loop: 'closed',
    },
  )
  if (options.only !== null) {
    const only = options.only.toLowerCase()
    const kept = scenarios.filter((sc) => sc.server === 'ceiling' || sc.name.toLowerCase().includes(only))
    scenarios.splice(0, scenarios.length, ...kept)
  }
  const workDir = mkdtempSync(path.join(tmpdir(), 'inlet-mixed-'))
  mkdirSync(workDir, { recursive: true })
  const machine = describeMachine(workDir)
  const results: Result[] = []
  try {
    for (const scenario of scenarios) {
      progress(`${scenario.name}: ${options.rate}/s for ${options.warmupS} + ${options.durationS} s …`)
      const result = await runScenario(scenario, options, workDir)
      results.push(result)
      const ceilingP99 = percentile(results[0]?.webhookMs ?? [], 99) || 1
      progress(`  ${row(result, ceilingP99).join(' | ')}`)
      if (result.retentionDeleted !== null)
        progress(`  retention deleted ${result.retentionDeleted} messages`)
      if (result.slowestReads.length > 0) progress(`  slowest reads: ${slowest(result)}`)
    }
  } finally {
    killLiveChildren()
    rmSync(workDir, { recursive: true, force: true })
  }
  const ceilingP99 = percentile(results[0]?.webhookMs ?? [], 99) || 1
  const rows = results.map((r) => row(r, ceilingP99))
  const forwardingRows = forwardingTable(results)
  process.stdout.write(`${forwardingRows.map((r) => r.join(' | ')).join('\n')}\n`)
  process.stdout.write(`${rows.map((r) => r.join(' | ')).join('\n')}\n`)
  const heading = options.store === 'postgres' ? '## Mixed load on PostgreSQL' : '## Mixed load'
  if (options.out !== null) {
    const section = [
      heading,
      '',
      `\`npm run bench:mixed${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}\`: ${options.rate} signed webhooks/s, ` +
        `open loop, latency from each request's scheduled send time; ${options.warmupS} s of warm-up, then ` +
        `${options.durationS} s measured per run. The server (all its threads) is pinned to core 0, the load and`,
      'the browsing client run on core 1. Browsing client: one read at a time, 100 ms after the last answer,',
      `cycling ${browsingPaths(freshVocabulary(new MessageFactory(11, '2025-09-01T00:00:00Z'))).length} shapes ` +
        '(searches by word class and a phrase, busy/median/rare/absent senders, sender + word, since, since + word, ' +
        'deep offset, stats). Each Inlet run starts a new process (on a copy of the large database where named), so',
      "every read's first request is cold. The ceiling is the bare Fastify server of `npm run bench` at the same rate.",
      'Export client: whole `GET /export?format=ndjson` of the large copy back to back (its "reads" are whole exports,',
      'their latency the time of one export); compare it with the run on the same copy without it.',
      '',
      ...machine,
      '',
      markdownTable(rows, HEADER),
      '',
      ...results
        .filter((r) => r.slowestReads.length > 0)
        .map((r) => `- slowest reads, ${r.scenario.name}: ${slowest(r)}`),
      ...results
        .filter((r) => r.retentionDeleted !== null)
        .map(
          (r) =>
            `- ${r.scenario.name}: the retention job (RETENTION_DAYS, its default pace) had deleted ` +
            `${r.retentionDeleted} messages when the run ended (${options.warmupS + options.durationS} s after the server started)`,
        ),
      '',
      '### Forwarding and the event stream',
      '',
      'Each run with consumers against the same run without them, in this invocation: webhooks acknowledged per',
      "second while measured, their p99, and the lag from each webhook's send time until the forwarding receiver",
      '(a local HTTP server answering 204, on core 1) and the SSE client (following `/events/stream` from the start)',
      'had its event. "drained" is how long after the last webhook both had every acknowledged message.',
      '',
      markdownTable(forwardingRows, FORWARDING_HEADER),
      '',
    ].join('\n')
    writeSection(options.out, section, heading)
    process.stdout.write(`wrote the "${heading}" section of ${displayPath(options.out)}\n`)
  }
  const failed = results.some((r) => r.webhookErrors > 0 || (r.missing ?? 0) > 0)
  return failed ? 1 : 0
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killLiveChildren()
    process.exit(130)
  })
}

await runMain(main, USAGE).catch((error) => {
  if (error instanceof HarnessError) {
    process.stderr.write(`bench:mixed: ${error.message}\n`)
    process.exitCode = 1
  } else throw error
})
