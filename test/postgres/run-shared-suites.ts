// Runs the suites that hold for every adapter (HTTP contract, storage contract) again, with
// PostgreSQL under the app. `npm test` calls this after the SQLite run. Without a server to
// test against it says so and succeeds: a laptop without PostgreSQL can still run npm test.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { POSTGRES_SKIP_REASON } from '../helpers/test-database.js'

const SHARED_SUITES = [
  'webhook',
  'messages',
  'messages-cursor',
  'stats',
  'health',
  'errors',
  'observability',
  'store-contract',
  'whatsapp',
  'events',
  'forwarding',
  'export',
  'openapi',
  'lifecycle',
]

if (POSTGRES_SKIP_REASON !== undefined) {
  process.stdout.write(`# SKIPPED the shared suites on PostgreSQL: ${POSTGRES_SKIP_REASON}\n`)
  process.exit(0)
}
const test = path.resolve(import.meta.dirname, '..')
process.stdout.write('# the shared suites, on PostgreSQL (INLET_TEST_STORE=postgres)\n')
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    ...SHARED_SUITES.map((name) => path.join(test, `${name}.test.ts`)),
  ],
  { stdio: 'inherit', env: { ...process.env, INLET_TEST_STORE: 'postgres' } },
)
process.exit(result.status ?? 1)
