// What the feed's commit-order lock costs PostgreSQL replicas: several stores (each its own
// connection pool, as replicas are) insert into one schema as fast as their commits allow,
// with the lock (how Inlet runs) and without it (positions from the sequence alone, which
// can skip events: test/postgres-feed.test.ts), alternating, in one invocation.
// Run with `npm run bench:feed-order -- [options]` (`--help` lists them).
import { PostgresMessageStore } from '../src/storage/postgres/postgres-store.js'
import { MessageFactory } from './lib/bodies.js'
import { integerOption, parseCli, progress, runMain } from './lib/cli.js'
import { percentile } from './lib/http-load.js'
import { createSchema, dropSchema } from './lib/postgres.js'
import { describeMachine, markdownTable, writeSection } from './lib/report.js'

const USAGE = `Usage: npm run bench:feed-order -- [options]

  --replicas N     stores (replicas) writing at once (default 3)
  --writers N      concurrent inserts per replica (default 16)
  --duration S     seconds per run (default 8)
  --runs N         runs per mode, alternating (default 3)
  --database-url U PostgreSQL server (default $TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test)
  --out PATH       file whose "## Feed order on PostgreSQL" section is replaced (default bench/RESULTS.md; "-" none)
  --help           this text
`

interface RunResult {
  mode: 'lock' | 'naive'
  rowsPerS: number
  commitMs: number[]
}

async function run(
  url: string,
  mode: RunResult['mode'],
  replicas: number,
  writers: number,
  durationS: number,
): Promise<RunResult> {
  const { schema, databaseUrl } = await createSchema(url, 'inlet_feed_order')
  const stores: PostgresMessageStore[] = []
  try {
    for (let r = 0; r < replicas; r++) {
      stores.push(
        await PostgresMessageStore.open({
          url: databaseUrl,
          ...(mode === 'naive' ? { feedFaults: { naiveOrder: true, commitDelayMs: 0 } } : {}),
        }),
      )
    }
    const factory = new MessageFactory(7, '2025-09-01T00:00:00Z')
    const commitMs: number[] = []
    let rows = 0
    const endAt = performance.now() + durationS * 1000
    await Promise.all(
      stores.flatMap((store) =>
        Array.from({ length: writers }, async () => {
          while (performance.now() < endAt) {
            const started = performance.now()
            await store.insert(factory.next())
            commitMs.push(performance.now() - started)
            rows += 1
          }
        }),
      ),
    )
    return { mode, rowsPerS: rows / durationS, commitMs }
  } finally {
    for (const store of stores) await store.close()
    await dropSchema(url, schema)
  }
}

async function main(argv: string[]): Promise<number> {
  const values = parseCli(argv, {
    replicas: { type: 'string', default: '3' },
    writers: { type: 'string', default: '16' },
    duration: { type: 'string', default: '8' },
    runs: { type: 'string', default: '3' },
    'database-url': {
      type: 'string',
      default: process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
    },
    out: { type: 'string', default: new URL('RESULTS.md', import.meta.url).pathname },
    help: { type: 'boolean', default: false },
  })
  if (values.help === true) {
    process.stdout.write(USAGE)
    return 0
  }
  const replicas = integerOption('replicas', values.replicas as string, 1)
  const writers = integerOption('writers', values.writers as string, 1)
  const durationS = integerOption('duration', values.duration as string, 1)
  const runs = integerOption('runs', values.runs as string, 1)
  const url = values['database-url'] as string
  const results: RunResult[] = []
  for (let i = 0; i < runs; i++) {
    for (const mode of ['naive', 'lock'] as const) {
      progress(`run ${i + 1}/${runs}, ${mode} …`)
      const result = await run(url, mode, replicas, writers, durationS)
      progress(
        `  ${result.rowsPerS.toFixed(0)} rows/s, commit p99 ${percentile(result.commitMs, 99).toFixed(1)} ms`,
      )
      results.push(result)
    }
  }
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
  const summary = (mode: RunResult['mode']) => {
    const own = results.filter((r) => r.mode === mode)
    return {
      rate: median(own.map((r) => r.rowsPerS)),
      p50: median(own.map((r) => percentile(r.commitMs, 50))),
      p99: median(own.map((r) => percentile(r.commitMs, 99))),
    }
  }
  const naive = summary('naive')
  const lock = summary('lock')
  const rows = [
    [
      'sequence alone (naive: can skip events)',
      naive.rate.toFixed(0),
      '1',
      naive.p50.toFixed(2),
      naive.p99.toFixed(2),
    ],
    [
      'commit-order lock (Inlet)',
      lock.rate.toFixed(0),
      (lock.rate / naive.rate).toFixed(3),
      lock.p50.toFixed(2),
      lock.p99.toFixed(2),
    ],
  ]
  const header = ['feed positions', 'rows/s (median)', 'vs naive', 'commit p50 ms', 'commit p99 ms']
  const table = markdownTable(rows, header)
  process.stdout.write(`${table}\n`)
  const out = values.out === '-' ? null : (values.out as string)
  if (out !== null) {
    const heading = '## Feed order on PostgreSQL'
    writeSection(
      out,
      [
        heading,
        '',
        `\`npm run bench:feed-order${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}\`: ${replicas} stores (each with its own pool, as replicas`,
        `have) in one process, ${writers} concurrent inserts each, closed loop, ${durationS} s per run, ${runs} runs per mode`,
        'alternating; each insert waits for its commit (group commit per store, as in the server). Medians over runs.',
        '',
        ...describeMachine(process.cwd()),
        '',
        table,
        '',
      ].join('\n'),
      heading,
    )
  }
  return 0
}

await runMain(main, USAGE)
