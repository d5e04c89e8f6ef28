// Ingest benchmark: Inlet's POST /webhook (or /webhooks/whatsapp with --source whatsapp)
// against a bare Fastify server (the ceiling),
// each pinned to core 0, driven by the same wrk load from core 1. Run with
// `npm run bench -- [options]` (`--help` lists them). Never part of `npm test`.
import { randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SERVER_NODE_FLAGS } from '../src/runtime.js'
import { searchIndexFile } from '../src/storage/sqlite/search-index.js'
import { SOURCE_ROUTES, writeBodies } from './lib/bodies.js'
import { type Options, parseOptions, USAGE, UsageError } from './lib/options.js'
import { countRunRows, createSchema, dropSchema } from './lib/postgres.js'
import { countMessages, prefillMessages } from './lib/prefill.js'
import {
  checkTools,
  clockTicksPerSecond,
  coreBusyTicks,
  cpuTicks,
  freePort,
  HarnessError,
  killLiveChildren,
  peakRssKiB,
  pinSelfToLoadCore,
  SERVER_CORE,
  type ServerSpec,
  startServer,
  stopServer,
} from './lib/processes.js'
import {
  describeMachine,
  interferenceWarnings,
  markdownTable,
  type RowCheck,
  type RunResult,
  ratio,
  resultRow,
  type ServerName,
  spread,
  tableRows,
  textTable,
  writeSection,
} from './lib/report.js'
import { runWrk, WRK_THREADS, type WrkStats } from './lib/wrk.js'

const REPO = path.resolve(import.meta.dirname, '..')
const INLET_ENTRY = path.join(REPO, 'dist', 'server.js')
const INLET_NODE_FLAGS = [...SERVER_NODE_FLAGS]
const CEILING_ENTRY = path.join(REPO, 'bench', 'ceiling-server.mjs')

interface Context {
  options: Options
  workDir: string
  bodiesFile: string
  secret: string
  /** A database already holding --prefill rows, copied for each Inlet run; null without prefill. */
  template: string | null
  clockTicks: number
  totalRuns: number
}

function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file)
  return relative.startsWith('..') ? path.resolve(file) : relative
}

function progress(message: string): void {
  process.stderr.write(`${message}\n`)
}

function inletSpec(ctx: Context, port: number, dir: string, databaseUrl?: string): ServerSpec {
  return {
    name: 'inlet',
    // The node flags `npm start` and the container image use (package.json, Dockerfile).
    args: [...INLET_NODE_FLAGS, INLET_ENTRY],
    env: {
      WEBHOOK_SECRET: ctx.secret,
      WHATSAPP_APP_SECRET: ctx.secret,
      WHATSAPP_VERIFY_TOKEN: 'bench',
      DATABASE_URL: databaseUrl ?? `sqlite:///${path.join(dir, 'app.db')}`, // absolute path: four slashes
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'INFO',
    },
    port,
    logFile: path.join(dir, 'server.log'),
    cwd: REPO,
  }
}

function ceilingSpec(port: number, dir: string): ServerSpec {
  const env = { PORT: String(port), HOST: '127.0.0.1' }
  return {
    name: 'ceiling',
    args: [CEILING_ENTRY],
    env,
    port,
    logFile: path.join(dir, 'server.log'),
    cwd: REPO,
  }
}

/** Starting Inlet once creates the schema through its own migrations; then rows go in in bulk. */
async function makeTemplate(ctx: Context): Promise<string> {
  const dir = path.join(ctx.workDir, 'template')
  mkdirSync(dir)
  progress(`prefilling a database with ${ctx.options.prefill} rows …`)
  const server = await startServer(inletSpec(ctx, await freePort(), dir))
  await stopServer(server)
  const file = path.join(dir, 'app.db')
  await prefillMessages(file, ctx.options.prefill)
  return file
}

/** The messages and their search index, each with its WAL if it has one. */
function copyDatabase(from: string, toDir: string): void {
  const to = path.join(toDir, 'app.db')
  for (const [source, target] of [
    [from, to],
    [searchIndexFile(from), searchIndexFile(to)],
  ] as const) {
    for (const suffix of ['', '-wal']) {
      if (existsSync(source + suffix)) copyFileSync(source + suffix, target + suffix)
    }
  }
}

/** 200s are rows; requests still in flight when wrk stopped may have become rows too. */
function checkRows(ctx: Context, rows: number, warm: WrkStats, measured: WrkStats): RowCheck {
  const ok200 = (s: WrkStats) => s.requests - s.non2xx
  const answered = ctx.options.prefill + ok200(warm) + ok200(measured)
  const upTo = answered + (warm.sent - warm.requests) + (measured.sent - measured.requests)
  // One wrk thread sends bodies in order from 0; past the last one it starts over, and a
  // duplicate answers 200 without a new row.
  const wrapped = warm.sent + measured.sent > ctx.options.bodies
  if (wrapped) progress(`  bodies ran out (sent ${warm.sent + measured.sent}): raise --bodies`)
  return { rows, answered, upTo, ok: !wrapped && rows >= answered && rows <= upTo }
}

async function benchRun(ctx: Context, run: number, server: ServerName): Promise<RunResult> {
  const { options } = ctx
  const label = `[run ${run}/${ctx.totalRuns}] ${server}`
  const dir = path.join(ctx.workDir, `run-${run}-${server}`)
  mkdirSync(dir)
  if (server === 'inlet' && ctx.template !== null) copyDatabase(ctx.template, dir)
  const port = await freePort()
  const pgRun =
    server === 'inlet' && options.store === 'postgres'
      ? await createSchema(options.databaseUrl, 'inlet_bench')
      : null
  const spec = server === 'inlet' ? inletSpec(ctx, port, dir, pgRun?.databaseUrl) : ceilingSpec(port, dir)
  const proc = await startServer(spec)
  const route = SOURCE_ROUTES[options.source]
  const load = {
    url: `${proc.baseUrl}${route.path}`,
    connections: options.connections,
    bodiesFile: ctx.bodiesFile,
    signatureHeader: route.header,
  }

  progress(`${label}: warm-up ${options.warmup}s …`)
  const warm = await runWrk({ ...load, durationS: options.warmup, start: 0 })
  progress(`${label}: ${options.duration}s …`)
  const ticksBefore = cpuTicks(proc.pid)
  const coreBefore = coreBusyTicks(SERVER_CORE)
  const startedAt = performance.now()
  // Starts where the warm-up stopped, so Inlet only ever sees new message_ids.
  const measured = await runWrk({ ...load, durationS: options.duration, start: warm.sent })
  const ticks = cpuTicks(proc.pid) - ticksBefore
  const coreOther = coreBusyTicks(SERVER_CORE) - coreBefore - ticks
  const elapsedS = (performance.now() - startedAt) / 1000
  const rssKiB = peakRssKiB(proc.pid)

  const exit = await stopServer(proc)
  if (exit !== 0) throw new HarnessError(`${server} exited with ${exit} after SIGTERM; see ${spec.logFile}`)
  const result: RunResult = {
    run,
    server,
    reqPerSec: measured.requests / (measured.durationUs / 1e6),
    p50Ms: measured.p50Us / 1000,
    p99Ms: measured.p99Us / 1000,
    cpuUsPerReq: (ticks * 1e6) / ctx.clockTicks / measured.requests,
    peakRssMiB: rssKiB / 1024,
    non2xx: measured.non2xx + warm.non2xx,
    socketErrors: measured.socketErrors + warm.socketErrors,
    rowCheck:
      server !== 'inlet'
        ? null
        : checkRows(
            ctx,
            pgRun === null
              ? countMessages(path.join(dir, 'app.db'))
              : await countRunRows(options.databaseUrl, pgRun.schema),
            warm,
            measured,
          ),
    coreOtherPct: Math.max(0, (coreOther / ctx.clockTicks / elapsedS) * 100),
  }
  if (server === 'inlet') rmSync(path.join(dir, 'app.db'), { force: true }) // can be large; logs stay
  if (pgRun !== null) await dropSchema(options.databaseUrl, pgRun.schema)
  const [, , rate, p50, p99, cpu, rss, errors, rows] = resultRow(result)
  progress(
    `${label}: ${rate} req/s, p50 ${p50} ms, p99 ${p99} ms, ${cpu} µs CPU/req, ${rss} MiB, ` +
      `non-2xx/errors ${errors}, rows ${rows}, others on core ${SERVER_CORE}: ${result.coreOtherPct.toFixed(0)}%`,
  )
  return result
}

/** Each store's figures have a section of their own in RESULTS.md. */
const sectionHeading = (o: Options) =>
  `${o.store === 'postgres' ? '## Ingest on PostgreSQL' : '## Ingest'}${o.source === 'whatsapp' ? ' (WhatsApp)' : ''}`

function resultsSection(ctx: Context, results: RunResult[], argv: string[]): string {
  const o = ctx.options
  return [
    sectionHeading(o),
    '',
    `\`npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}\`: ${o.runs} run(s) per server, ` +
      `${o.duration} s each after a ${o.warmup} s warm-up, wrk -t${WRK_THREADS} -c${o.connections} ` +
      `cycling through ${o.bodies} distinct signed bodies, store ${o.store}, prefill ${o.prefill} rows.`,
    ...(o.source === 'whatsapp'
      ? [
          '',
          'Bodies: Meta-style WhatsApp Cloud API envelopes (one entry, one `messages` change, a contact',
          'profile, one text item; non-ASCII and `/` escaped as Meta does, about 520 bytes), posted to',
          '`/webhooks/whatsapp` with `X-Hub-Signature-256`; the ceiling parses the same bodies.',
        ]
      : []),
    '',
    ...describeMachine(path.dirname(ctx.workDir)),
    '',
    'Each run starts a fresh server process (Inlet on a fresh database) pinned to core 0; wrk runs on',
    'core 1. The ceiling is bare Fastify parsing the JSON and answering `{"status":"ok"}`',
    '(bench/ceiling-server.mjs). CPU µs/req: server utime+stime over the measured run per response.',
    'Peak RSS: VmHWM at the end of the run. non-2xx: non-2xx responses plus socket errors, warm-up',
    'included. rows: rows in `messages` after SIGTERM against the 200s wrk counted (prefill and',
    'warm-up included); the range adds requests still in flight when wrk stopped.',
    ...(o.store === 'postgres'
      ? [
          'Inlet runs on a fresh schema of the PostgreSQL server at --database-url; that server is not',
          "pinned and its CPU time is not in Inlet's CPU µs/req: it shares both cores with the rest.",
        ]
      : []),
    '',
    markdownTable(tableRows(results)),
    '',
    `**Inlet/ceiling (median req/s): ${ratio(results).toFixed(3)}** (${spread(results)})`,
    '',
    ...interferenceWarnings(results).flatMap((w) => [`> ${w}`, '']),
  ].join('\n')
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv, path.join(REPO, 'bench', 'RESULTS.md'))
  if (options.help) {
    process.stdout.write(USAGE)
    return 0
  }
  checkTools()
  if (!existsSync(INLET_ENTRY)) throw new HarnessError(`${INLET_ENTRY} is missing: run npm run build first`)
  pinSelfToLoadCore()

  const workDir = mkdtempSync(path.join(os.tmpdir(), 'inlet-bench-'))
  interruptedDir = workDir
  let keepWorkDir = true
  try {
    const ctx: Context = {
      options,
      workDir,
      bodiesFile: path.join(workDir, 'bodies.txt'),
      secret: randomBytes(24).toString('hex'),
      template: null,
      clockTicks: clockTicksPerSecond(),
      totalRuns: options.runs * 2,
    }
    progress(`generating ${options.bodies} signed bodies in ${workDir} …`)
    writeBodies(ctx.bodiesFile, options.bodies, ctx.secret, options.source)
    if (options.prefill > 0) ctx.template = await makeTemplate(ctx)

    const results: RunResult[] = []
    for (let run = 1; run <= ctx.totalRuns; run++) {
      // Interleaved, so that drift in the machine's speed hits both servers alike.
      results.push(await benchRun(ctx, run, run % 2 === 1 ? 'ceiling' : 'inlet'))
    }

    process.stdout.write(`\n${textTable(tableRows(results))}\n\n`)
    process.stdout.write(`Inlet/ceiling (median req/s): ${ratio(results).toFixed(3)}; ${spread(results)}\n`)
    for (const warning of interferenceWarnings(results)) process.stderr.write(`${warning}\n`)
    if (options.out !== null) {
      writeSection(options.out, resultsSection(ctx, results, argv), sectionHeading(options))
      process.stdout.write(`wrote the "${sectionHeading(options)}" section of ${displayPath(options.out)}\n`)
    }
    const mismatches = results.filter((r) => r.rowCheck !== null && !r.rowCheck.ok).length
    if (mismatches > 0) {
      process.stderr.write(`MISMATCH: ${mismatches} Inlet run(s) lost or invented rows; logs in ${workDir}\n`)
      return 1
    }
    keepWorkDir = false
    return 0
  } finally {
    killLiveChildren()
    if (keepWorkDir) progress(`kept ${workDir} for inspection`)
    else rmSync(workDir, { recursive: true, force: true })
  }
}

/** Removed if the harness is interrupted; a finished run decides for itself. */
let interruptedDir: string | null = null

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killLiveChildren()
    if (interruptedDir !== null) rmSync(interruptedDir, { recursive: true, force: true })
    process.exit(130)
  })
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n\n${USAGE}`)
    process.exitCode = 2
  } else if (error instanceof HarnessError) {
    process.stderr.write(`bench: ${error.message}\n`)
    process.exitCode = 1
  } else {
    throw error
  }
}
