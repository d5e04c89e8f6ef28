// Soak test: a steady, open-loop signed webhook load plus reads against one Inlet process
// for many minutes; prints errors, latency and memory per minute. Run with
// `npm run soak -- --minutes N --rate R` (`--help` lists the options).
import { createHmac, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { SERVER_NODE_FLAGS } from '../src/runtime.js'
import { MessageFactory } from './lib/bodies.js'
import { displayPath, integerOption, parseCli, progress, runMain, UsageError } from './lib/cli.js'
import { loadAgent, percentile, rssMiB, send } from './lib/http-load.js'
import {
  freePort,
  HarnessError,
  killLiveChildren,
  pinSelfToLoadCore,
  startServer,
  stopServer,
} from './lib/processes.js'
import { describeMachine, markdownTable, writeSection } from './lib/report.js'

const REPO = path.resolve(import.meta.dirname, '..')
const HEADING = '## Soak'

const USAGE = `Usage: npm run soak -- [options]

Starts Inlet (dist/server.js, on a fresh SQLite database) pinned to core 0 and drives it from
core 1 with a steady open-loop load: --rate signed webhooks per second (each a new message)
plus --reads per second (GET /messages with and without q, GET /stats). Every minute it
prints the requests, errors, p50/p99 latency and the server's RSS; at the end it checks that
every acknowledged message is stored and writes the "${HEADING}" section of bench/RESULTS.md.

  --minutes N   measured duration (default 10)
  --warmup S    seconds of the same load first, reported apart (default 10): start-up (cold
                JIT on both sides, connections opening) would otherwise dominate minute 1
  --rate R      webhooks per second (default 1000)
  --reads R     reads per second (default 20)
  --out PATH    file whose "${HEADING}" section is replaced (default bench/RESULTS.md; "-" none)
  --help        this text
`

interface MinuteStats {
  minute: number
  requests: number
  errors: number
  latenciesMs: number[]
  rssMiB: number
}

async function main(argv: string[]): Promise<number> {
  const values = parseCli(argv, {
    minutes: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    reads: { type: 'string', default: '20' },
    out: { type: 'string', default: path.join(REPO, 'bench', 'RESULTS.md') },
    help: { type: 'boolean', default: false },
  })
  if (values.help === true) {
    process.stdout.write(USAGE)
    return 0
  }
  const minutes = integerOption('minutes', values.minutes as string, 1)
  const warmupS = integerOption('warmup', values.warmup as string, 0)
  const rate = integerOption('rate', values.rate as string, 1)
  const reads = integerOption('reads', values.reads as string, 0)
  const out = values.out === '-' ? null : path.resolve(values.out as string)

  const workDir = mkdtempSync(path.join(tmpdir(), 'inlet-soak-'))
  mkdirSync(path.join(workDir, 'data'))
  const secret = randomBytes(24).toString('hex')
  try {
    pinSelfToLoadCore()
    const port = await freePort()
    const server = await startServer({
      name: 'inlet',
      args: [...SERVER_NODE_FLAGS, path.join(REPO, 'dist', 'server.js')],
      env: {
        WEBHOOK_SECRET: secret,
        DATABASE_URL: `sqlite:///${path.join(workDir, 'data', 'app.db')}`,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'INFO',
      },
      port,
      logFile: path.join(workDir, 'server.log'),
      cwd: REPO,
    })
    progress(`soak: ${minutes} min, ${rate} webhooks/s and ${reads} reads/s against ${server.baseUrl}`)
    const agent = loadAgent()
    const factory = new MessageFactory(3, '2025-09-01T00:00:00Z')
    const acknowledged: string[] = []
    const perMinute: MinuteStats[] = []
    // Minute 0 is the warm-up: its errors count, its latencies are reported apart.
    let current: MinuteStats = {
      minute: warmupS > 0 ? 0 : 1,
      requests: 0,
      errors: 0,
      latenciesMs: [],
      rssMiB: 0,
    }
    const inFlight = new Set<Promise<void>>()
    const timed = (run: () => Promise<number>, onOk?: () => void) => {
      const started = performance.now()
      const bucket = current
      const done = run().then((status) => {
        bucket.requests += 1
        bucket.latenciesMs.push(performance.now() - started)
        if (status < 200 || status >= 300) bucket.errors += 1
        else onOk?.()
      })
      inFlight.add(done)
      void done.finally(() => inFlight.delete(done))
    }
    const readPaths = ['/messages', '/messages?q=refund', '/messages?q=order&limit=10', '/stats']

    // Open loop: every millisecond or so, send what the rate owes by now, whether or not
    // answers came back; small ticks spread the load evenly instead of in bursts.
    const startedAt = performance.now()
    let sentWebhooks = 0
    let sentReads = 0
    const endAt = startedAt + warmupS * 1000 + minutes * 60_000
    let nextMinuteAt = startedAt + (warmupS > 0 ? warmupS * 1000 : 60_000)
    while (performance.now() < endAt) {
      const elapsedS = (performance.now() - startedAt) / 1000
      while (sentWebhooks < elapsedS * rate) {
        const m = factory.next()
        const body = JSON.stringify(m)
        const signature = createHmac('sha256', secret).update(body).digest('hex')
        sentWebhooks += 1
        timed(
          () =>
            send(agent, port, 'POST', '/webhook', body, {
              'content-type': 'application/json',
              'x-signature': signature,
            }),
          () => acknowledged.push(m.message_id),
        )
      }
      while (sentReads < elapsedS * reads) {
        const readPath = readPaths[sentReads % readPaths.length] as string
        sentReads += 1
        timed(() => send(agent, port, 'GET', readPath))
      }
      if (performance.now() >= nextMinuteAt) {
        current.rssMiB = rssMiB(server.pid)
        perMinute.push(current)
        report(current)
        current = { minute: current.minute + 1, requests: 0, errors: 0, latenciesMs: [], rssMiB: 0 }
        nextMinuteAt += 60_000
      }
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
    await Promise.all(inFlight)
    if (current.requests > 0 && perMinute.filter((m) => m.minute > 0).length < minutes) {
      current.rssMiB = rssMiB(server.pid)
      perMinute.push(current)
      report(current)
    }
    agent.destroy()
    const exit = await stopServer(server)
    if (exit !== 0)
      throw new HarnessError(`Inlet exited with ${exit} after SIGTERM; see ${workDir}/server.log`)
    const stored = countStored(path.join(workDir, 'data', 'app.db'), acknowledged)

    const errors = perMinute.reduce((sum, m) => sum + m.errors, 0)
    const measured = perMinute.filter((m) => m.minute > 0)
    const p99s = measured.map((m) => percentile(m.latenciesMs, 99))
    const rssGrowth = ((measured.at(-1)?.rssMiB ?? 0) / (measured[0]?.rssMiB || 1) - 1) * 100
    const summary =
      `errors ${errors}; p99 per minute ${Math.min(...p99s).toFixed(1)}–${Math.max(...p99s).toFixed(1)} ms; ` +
      `RSS ${measured[0]?.rssMiB.toFixed(0)} → ${measured.at(-1)?.rssMiB.toFixed(0)} MiB (${rssGrowth >= 0 ? '+' : ''}${rssGrowth.toFixed(1)} %); ` +
      `${acknowledged.length} acknowledged, ${stored.missing} missing after shutdown`
    process.stdout.write(`${summary}\n`)
    if (out !== null) {
      writeSection(
        out,
        section(argv, { minutes, warmupS, rate, reads }, perMinute, summary, workDir),
        HEADING,
      )
      process.stdout.write(`wrote the "${HEADING}" section of ${displayPath(out)}\n`)
    }
    return errors === 0 && stored.missing === 0 ? 0 : 1
  } finally {
    killLiveChildren()
    rmSync(workDir, { recursive: true, force: true })
  }
}

function report(m: MinuteStats): void {
  progress(
    `${m.minute === 0 ? 'warm-up' : `minute ${m.minute}`}: ${m.requests} requests, ${m.errors} errors, ` +
      `p50 ${percentile(m.latenciesMs, 50).toFixed(1)} ms, p99 ${percentile(m.latenciesMs, 99).toFixed(1)} ms, ` +
      `RSS ${m.rssMiB.toFixed(1)} MiB`,
  )
}

function countStored(file: string, ids: string[]): { missing: number } {
  const db = new Database(file, { readonly: true })
  try {
    const has = db.prepare('SELECT 1 FROM messages WHERE message_id = ?').pluck()
    return { missing: ids.filter((id) => has.get(id) === undefined).length }
  } finally {
    db.close()
  }
}

function section(
  argv: string[],
  o: { minutes: number; warmupS: number; rate: number; reads: number },
  perMinute: MinuteStats[],
  summary: string,
  workDir: string,
): string {
  const rows = perMinute.map((m) => [
    m.minute === 0 ? `warm-up (${o.warmupS} s)` : String(m.minute),
    String(m.requests),
    String(m.errors),
    percentile(m.latenciesMs, 50).toFixed(1),
    percentile(m.latenciesMs, 99).toFixed(1),
    m.rssMiB.toFixed(1),
  ])
  return [
    HEADING,
    '',
    `\`npm run soak${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}\`: ${o.minutes} min of ${o.rate} signed webhooks/s ` +
      `(each a new message) and ${o.reads} reads/s (GET /messages with and without q, GET /stats), open loop,`,
    'against one Inlet process on a fresh SQLite database pinned to core 0; the load comes from core 1.',
    'Latency is measured by the client, from sending to the last byte.',
    `The first ${o.warmupS} s of the same load are a warm-up, shown as their own row: their errors count,`,
    'their latencies are not in the per-minute p99 range of the summary.',
    '',
    ...describeMachine(workDir),
    '',
    markdownTable(rows, ['minute', 'requests', 'errors', 'p50 ms', 'p99 ms', 'server RSS MiB']),
    '',
    `**${summary}**`,
    '',
  ].join('\n')
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killLiveChildren()
    process.exit(130)
  })
}

await runMain(main, USAGE).catch((error) => {
  if (error instanceof UsageError || error instanceof HarnessError) {
    process.stderr.write(`soak: ${error.message}\n`)
    process.exitCode = 1
  } else throw error
})
