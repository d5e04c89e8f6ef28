import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { type Config, loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/observability/logger.js'
import { signWebhookBody } from '../../src/sources/webhook/signature.js'
import type { Message } from '../../src/storage/message-store.js'
import type { InletStore } from '../../src/storage/open-store.js'
import { checkAnswersAgainstDocument } from './openapi-conformance.js'
import { freshTestDatabase, type TestDatabase } from './test-database.js'

export { tempDir } from './temp-dir.js'

export const SECRET = 'testsecret'

export interface TestApp {
  app: FastifyInstance
  store: InletStore
  /** The database under the app: SQLite, or PostgreSQL when the suites run against it. */
  database: TestDatabase
  /** Every line the app has logged so far, parsed. */
  logs(): Record<string, unknown>[]
  /** The access lines (one per request). */
  accessLines(): Record<string, unknown>[]
  close(): Promise<void>
}

type TestContext = { after(fn: () => void | Promise<void>): void }

/**
 * The real app on a real database of the adapter under test (a fresh one, unless
 * `database` is given), built exactly as the server builds it, with the log lines
 * captured. `env` overrides the environment the config is read from.
 */
export async function createTestApp(
  t: TestContext,
  options: {
    env?: Record<string, string>
    database?: TestDatabase
    discardLogs?: boolean
    consoleRoot?: string
  } = {},
): Promise<TestApp> {
  let close = async () => {}
  const database = options.database ?? (await freshTestDatabase(t, () => close()))
  const config: Config = loadConfig({
    WEBHOOK_SECRET: SECRET,
    DATABASE_URL: database.url,
    LOG_LEVEL: 'DEBUG',
    ...options.env,
  })
  const lines: string[] = []
  // Kept for the assertions; a test of memory use discards them instead.
  const logger = createLogger(config.logLevel, {
    write: (line: string) => void (options.discardLogs ? undefined : lines.push(line)),
  })
  const store = await database.openStore(config, logger)
  const app = buildApp({ config, store, logger, consoleRoot: options.consoleRoot })
  await app.ready()
  checkAnswersAgainstDocument(app)
  let closed = false
  close = async () => {
    if (closed) return
    closed = true
    await app.close()
    await store.close()
  }
  t.after(close)
  const logs = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  return {
    app,
    store,
    database,
    logs,
    accessLines: () => logs().filter((line) => line.msg === 'request completed'),
    close,
  }
}

let counter = 0

/** A valid webhook body; each call makes a new message_id unless one is given. */
export function message(
  overrides: Partial<Record<keyof Message, unknown>> & Record<string, unknown> = {},
): Record<string, unknown> {
  counter += 1
  return {
    message_id: `m-${process.pid}-${counter}`,
    from: '+919876543210',
    to: '+14155550100',
    ts: '2025-01-15T10:00:00Z',
    text: 'Hello',
    ...overrides,
  }
}

/**
 * Stores `count` messages of one sender with long texts straight through the store, in
 * batches (a large table for export tests, quicker than signed requests). Ids are the
 * prefix and a zero-padded number, so they sort in insertion order.
 */
export async function storeBulk(store: InletStore, prefix: string, count: number): Promise<void> {
  const messages = Array.from({ length: count }, (_, i) => ({
    message_id: `${prefix}${String(i).padStart(6, '0')}`,
    from: '+1',
    to: '+2',
    ts: '2025-01-01T00:00:00Z',
    text: prefix.repeat(200),
  }))
  for (let i = 0; i < count; i += 1000)
    await store.ingest({ messages: messages.slice(i, i + 1000), statuses: [] })
}

/** A body as the bytes to send: a Buffer as is, a string as UTF-8, anything else as JSON. */
export function bytesOf(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body
  return Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
}

/** POST /webhook with a correct signature over exactly the bytes sent. */
export function postSigned(
  app: FastifyInstance,
  body: unknown,
  options: { headers?: Record<string, string>; secret?: string } = {},
) {
  const raw = bytesOf(body)
  return app.inject({
    method: 'POST',
    url: '/webhook',
    payload: raw,
    headers: {
      'content-type': 'application/json',
      'x-signature': signWebhookBody(options.secret ?? SECRET, raw),
      ...options.headers,
    },
  })
}

/** Sample value of one series in a Prometheus text exposition, 0 when absent. */
export async function metricValue(app: FastifyInstance, series: string): Promise<number> {
  const response = await app.inject({ method: 'GET', url: '/metrics' })
  for (const line of response.body.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1))
  }
  return 0
}

/** Compares strings by UTF-8 bytes, the order the contract gives message_id. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}
