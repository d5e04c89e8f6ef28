import path from 'node:path'

/** Where messages live: an embedded SQLite file or a PostgreSQL server. */
export type DatabaseTarget = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string }

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface Config {
  /** HMAC key for POST /webhook; null means "not configured" (the service runs but refuses webhooks). */
  readonly webhookSecret: string | null
  /** During a rotation, the key being replaced: accepted besides the current one. */
  readonly webhookSecretPrevious: string | null
  /** Meta's app secret (the HMAC key of X-Hub-Signature-256); null: POST /webhooks/whatsapp answers 503. */
  readonly whatsappAppSecret: string | null
  readonly whatsappAppSecretPrevious: string | null
  /** The token Meta's verification request must echo; null: GET /webhooks/whatsapp answers 503. */
  readonly whatsappVerifyToken: string | null
  /** Largest accepted WhatsApp body (Meta sends up to 3 MB). */
  readonly whatsappMaxBodyBytes: number
  readonly database: DatabaseTarget
  readonly logLevel: LogLevel
  readonly port: number
  readonly host: string
  /** Largest accepted webhook body, enforced while the body is read. */
  readonly maxBodyBytes: number
  /** How long a SQLite write waits for a lock held by another process before giving up. */
  readonly sqliteBusyTimeoutMs: number
  /** SQLite reader threads, each with a read-only connection. */
  readonly sqliteReadThreads: number
  /** A read that takes longer (waiting included) answers 503 "query timed out". */
  readonly readTimeoutMs: number
  /** Reads that may wait for a free reader; beyond, 503 with Retry-After. */
  readonly readQueueMax: number
  /** Most PostgreSQL connections one process opens. */
  readonly databasePoolMax: number
  /** How long a client may take to send a request's headers, and the whole request. */
  readonly headersTimeoutMs: number
  readonly requestTimeoutMs: number
  /** How long an idle keep-alive connection stays open. */
  readonly keepAliveTimeoutMs: number
  /** Bearer token the read endpoints require; null: they are open. */
  readonly readApiToken: string | null
  /** Bearer token GET /metrics requires; null: it is open. */
  readonly metricsToken: string | null
  /** How often GET /events/stream sends a comment to keep idle connections open. */
  readonly eventsHeartbeatMs: number
  /** Bearer token of the state-changing admin endpoints; null: they answer 403. */
  readonly adminToken: string | null
  /** Forwarding of the feed (SPEC 2.4); null when FORWARD_URL is unset. */
  readonly forward: ForwardConfig | null
  readonly lifecycle: LifecycleConfig
}

/** Deletions in the background (SPEC 2.6, lifecycle/retention.ts). */
export interface LifecycleConfig {
  /** Messages whose ts is older than this many days are deleted; null: kept forever. */
  readonly retentionDays: number | null
  /** How long a deleted message_id is remembered, so that a retry is not stored again. */
  readonly tombstoneDays: number
  /** How often the background job runs (retention, forgetting old tombstones). */
  readonly intervalMs: number
  /** Messages per retention transaction, and the pause between two. */
  readonly chunkRows: number
  readonly pauseMs: number
}

export interface ForwardConfig {
  /** Each event goes to each of these http(s) URLs. */
  readonly urls: readonly string[]
  /** The Standard Webhooks signing secret, `whsec_` + base64. */
  readonly secret: string
  readonly timeoutMs: number
  /** Seconds to wait before each retry; after the last, a delivery is failed. */
  readonly retryScheduleS: readonly number[]
  /** Attempts in flight at once, over all destinations. */
  readonly concurrency: number
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`)
    this.name = 'ConfigError'
  }
}

type Env = Readonly<Record<string, string | undefined>>

/** Every key is declared here once: its default (or none) and how it is read. */
const LOG_LEVELS: Record<string, LogLevel> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARNING: 'warn',
  WARN: 'warn',
  ERROR: 'error',
}

const DEFAULTS = {
  DATABASE_URL: 'sqlite:///data/app.db',
  LOG_LEVEL: 'INFO',
  PORT: '8000',
  HOST: '0.0.0.0',
  MAX_BODY_BYTES: '65536',
  WHATSAPP_MAX_BODY_BYTES: '3145728',
  SQLITE_BUSY_TIMEOUT_MS: '5000',
  SQLITE_READ_THREADS: '2',
  READ_TIMEOUT_MS: '5000',
  READ_QUEUE_MAX: '64',
  DATABASE_POOL_MAX: '10',
  HEADERS_TIMEOUT_MS: '5000',
  REQUEST_TIMEOUT_MS: '10000',
  KEEP_ALIVE_TIMEOUT_MS: '72000',
  EVENTS_HEARTBEAT_MS: '10000',
  FORWARD_TIMEOUT_MS: '10000',
  FORWARD_RETRY_SCHEDULE: '5,300,1800,7200,18000,36000,36000',
  FORWARD_CONCURRENCY: '16',
  RETENTION_DAYS: '0',
  // Meta retries a webhook for up to 7 days: a month covers it with room to spare.
  TOMBSTONE_DAYS: '30',
  RETENTION_INTERVAL_S: '3600',
  RETENTION_CHUNK_ROWS: '100',
  RETENTION_PAUSE_MS: '100',
} as const

/**
 * Reads and validates the environment, reporting every problem at once.
 * An empty variable counts as unset, so `PORT=` in a compose file means "the default".
 */
export function loadConfig(env: Env, cwd: string = process.cwd()): Config {
  const problems: string[] = []
  const read = (name: keyof typeof DEFAULTS): string => {
    const value = env[name]
    return value === undefined || value === '' ? DEFAULTS[name] : value
  }
  const integer = (name: keyof typeof DEFAULTS, min: number, max: number): number => {
    const raw = read(name)
    if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`)
      return min
    }
    return Number(raw)
  }

  /** Secrets and tokens: an empty value counts as unset. */
  const secret = (name: string): string | null => env[name] || null

  const logLevel = LOG_LEVELS[read('LOG_LEVEL').toUpperCase()]
  if (logLevel === undefined) {
    problems.push(
      `LOG_LEVEL must be one of DEBUG, INFO, WARNING, WARN, ERROR (got ${JSON.stringify(read('LOG_LEVEL'))})`,
    )
  }
  const database = parseDatabaseUrl(read('DATABASE_URL'), cwd)
  if (typeof database === 'string') problems.push(database)

  const config: Config = {
    webhookSecret: secret('WEBHOOK_SECRET'),
    webhookSecretPrevious: secret('WEBHOOK_SECRET_PREVIOUS'),
    whatsappAppSecret: secret('WHATSAPP_APP_SECRET'),
    whatsappAppSecretPrevious: secret('WHATSAPP_APP_SECRET_PREVIOUS'),
    whatsappVerifyToken: secret('WHATSAPP_VERIFY_TOKEN'),
    whatsappMaxBodyBytes: integer('WHATSAPP_MAX_BODY_BYTES', 1, 64 * 1024 * 1024),
    database: typeof database === 'string' ? { kind: 'sqlite', file: '' } : database,
    logLevel: logLevel ?? 'info',
    port: integer('PORT', 0, 65535),
    host: read('HOST'),
    maxBodyBytes: integer('MAX_BODY_BYTES', 1, 64 * 1024 * 1024),
    sqliteBusyTimeoutMs: integer('SQLITE_BUSY_TIMEOUT_MS', 0, 600_000),
    sqliteReadThreads: integer('SQLITE_READ_THREADS', 1, 64),
    readTimeoutMs: integer('READ_TIMEOUT_MS', 1, 600_000),
    readQueueMax: integer('READ_QUEUE_MAX', 0, 100_000),
    databasePoolMax: integer('DATABASE_POOL_MAX', 1, 1000),
    headersTimeoutMs: integer('HEADERS_TIMEOUT_MS', 100, 600_000),
    requestTimeoutMs: integer('REQUEST_TIMEOUT_MS', 100, 600_000),
    keepAliveTimeoutMs: integer('KEEP_ALIVE_TIMEOUT_MS', 100, 600_000),
    readApiToken: secret('READ_API_TOKEN'),
    metricsToken: secret('METRICS_TOKEN'),
    eventsHeartbeatMs: integer('EVENTS_HEARTBEAT_MS', 100, 15_000),
    adminToken: secret('ADMIN_TOKEN'),
    forward: null,
    lifecycle: {
      retentionDays: integer('RETENTION_DAYS', 0, 365_000) || null,
      tombstoneDays: integer('TOMBSTONE_DAYS', 7, 365_000),
      intervalMs: integer('RETENTION_INTERVAL_S', 1, 86_400 * 7) * 1000,
      chunkRows: integer('RETENTION_CHUNK_ROWS', 1, 100_000),
      pauseMs: integer('RETENTION_PAUSE_MS', 0, 60_000),
    },
  }
  const forwardUrls = (env.FORWARD_URL ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '')
  if (forwardUrls.length > 0) {
    for (const url of forwardUrls) {
      if (!isHttpUrl(url))
        problems.push(`FORWARD_URL must list http:// or https:// URLs (got ${JSON.stringify(url)})`)
    }
    const forwardSecret = secret('FORWARD_SECRET')
    if (forwardSecret === null) problems.push('FORWARD_SECRET is required when FORWARD_URL is set')
    else if (!isStandardWebhooksSecret(forwardSecret)) {
      problems.push(
        'FORWARD_SECRET must be whsec_ followed by base64 (for example whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw)',
      )
    }
    const schedule = read('FORWARD_RETRY_SCHEDULE')
      .split(',')
      .map((part) => part.trim())
    if (!schedule.every((part) => /^[0-9]{1,7}$/.test(part))) {
      problems.push(
        `FORWARD_RETRY_SCHEDULE must be seconds separated by commas, such as 5,300,1800 (got ${JSON.stringify(read('FORWARD_RETRY_SCHEDULE'))})`,
      )
    }
    Object.assign(config, {
      forward: {
        urls: [...new Set(forwardUrls)],
        secret: forwardSecret ?? '',
        timeoutMs: integer('FORWARD_TIMEOUT_MS', 1, 600_000),
        retryScheduleS: schedule.map(Number),
        concurrency: integer('FORWARD_CONCURRENCY', 1, 1000),
      } satisfies ForwardConfig,
    })
  }
  // Node refuses a server whose headers may take longer than the whole request.
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    problems.push('HEADERS_TIMEOUT_MS must not be larger than REQUEST_TIMEOUT_MS')
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return Object.freeze(config)
}

/**
 * `sqlite:///rel/path.db` is relative to the working directory and `sqlite:////abs/path.db`
 * absolute (SQLAlchemy's convention, which the brief's users already write).
 * Returns the target, or a one-line reason naming the variable.
 */
function parseDatabaseUrl(url: string, cwd: string): DatabaseTarget | string {
  if (url.startsWith('sqlite:///')) {
    const rest = url.slice('sqlite:///'.length)
    if (rest === '' || rest === '/' || rest.includes('?') || rest.includes('\0')) {
      return `DATABASE_URL must name a SQLite file such as sqlite:///data/app.db (got ${JSON.stringify(url)})`
    }
    return { kind: 'sqlite', file: rest.startsWith('/') ? rest : path.resolve(cwd, rest) }
  }
  if (/^postgres(ql)?:\/\/./.test(url)) return { kind: 'postgres', url }
  return `DATABASE_URL must start with sqlite:///, postgres:// or postgresql:// (got ${JSON.stringify(redactUrl(url))})`
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== ''
  } catch {
    return false
  }
}

/** `whsec_` and a non-empty base64 key, as the Standard Webhooks libraries expect. */
function isStandardWebhooksSecret(secret: string): boolean {
  const key = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : null
  return key !== null && /^[A-Za-z0-9+/]+={0,2}$/.test(key) && key.length % 4 === 0
}

/** Hides a password in a connection URL before it is written anywhere. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, '$1***@')
}
