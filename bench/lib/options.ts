import type { BenchSource } from './bodies.js'
import { integerOption, parseCli, UsageError } from './cli.js'

export { UsageError }

export interface Options {
  connections: number
  /** Seconds per measured run. */
  duration: number
  /** Seconds of uncounted load after each server start. */
  warmup: number
  /** Runs per server; the two servers alternate. */
  runs: number
  bodies: number
  prefill: number
  store: 'sqlite' | 'postgres'
  /** What is posted: generic /webhook bodies or single-message WhatsApp envelopes. */
  source: BenchSource
  /** The PostgreSQL server for --store postgres (each Inlet run gets a fresh schema in it). */
  databaseUrl: string
  /** Where the "## Ingest" section is written; null when `--out -`. */
  out: string | null
  help: boolean
}

export const USAGE = `Usage: npm run bench -- [options]

Measures POST /webhook (or /webhooks/whatsapp) throughput of Inlet against a bare Fastify
server (the ceiling), each pinned to core 0 and driven by wrk from core 1.

  --connections N  wrk connections (default 50)
  --duration S     seconds per measured run (default 10)
  --warmup S       uncounted seconds after each server start (default 2)
  --runs N         runs per server, interleaved ceiling/Inlet (default 3)
  --bodies N       distinct signed bodies wrk cycles through (default 200000)
  --prefill N      rows in Inlet's database before each run (default 0)
  --store NAME     Inlet's store: sqlite (default) or postgres
  --source NAME    webhook (default: signed /webhook bodies) or whatsapp (Meta-style
                   envelopes of one text message each, signed with X-Hub-Signature-256,
                   to /webhooks/whatsapp)
  --database-url U PostgreSQL server for --store postgres; each Inlet run gets a fresh
                   schema in it (default $TEST_DATABASE_URL, else
                   postgres://postgres@127.0.0.1:5432/test)
  --out PATH       file whose "## Ingest" section (one per store and source) is replaced
                   (default bench/RESULTS.md; "-" writes nothing)
  --help           this text
`

const INTEGER_OPTIONS = {
  connections: { default: '50', min: 1 },
  duration: { default: '10', min: 1 },
  warmup: { default: '2', min: 1 },
  runs: { default: '3', min: 1 },
  bodies: { default: '200000', min: 1 },
  prefill: { default: '0', min: 0 },
} as const

export function parseOptions(argv: string[], defaultOut: string): Options {
  const values = parseCli(argv, {
    ...Object.fromEntries(
      Object.entries(INTEGER_OPTIONS).map(([name, o]) => [
        name,
        { type: 'string' as const, default: o.default },
      ]),
    ),
    store: { type: 'string', default: 'sqlite' },
    source: { type: 'string', default: 'webhook' },
    'database-url': {
      type: 'string',
      default: process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
    },
    out: { type: 'string', default: defaultOut },
    help: { type: 'boolean', default: false },
  })
  const int = (name: keyof typeof INTEGER_OPTIONS) =>
    integerOption(name, values[name] as string, INTEGER_OPTIONS[name].min)
  const store = values.store as string
  if (store !== 'sqlite' && store !== 'postgres') {
    throw new UsageError(`--store must be sqlite or postgres (got ${store})`)
  }
  const source = values.source as string
  if (source !== 'webhook' && source !== 'whatsapp') {
    throw new UsageError(`--source must be webhook or whatsapp (got ${source})`)
  }
  if (store === 'postgres' && int('prefill') > 0) {
    throw new UsageError('--prefill works with --store sqlite only')
  }
  const out = values.out as string
  return {
    connections: int('connections'),
    duration: int('duration'),
    warmup: int('warmup'),
    runs: int('runs'),
    bodies: int('bodies'),
    prefill: int('prefill'),
    store,
    source,
    databaseUrl: values['database-url'] as string,
    out: out === '-' ? null : out,
    help: values.help === true,
  }
}
