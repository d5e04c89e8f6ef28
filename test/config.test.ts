import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { ConfigError, loadConfig } from '../src/config.js'

test('defaults: SQLite at data/app.db under the working directory, INFO, 0.0.0.0:8000, 64 KiB bodies, 3 MiB WhatsApp bodies', () => {
  const config = loadConfig({}, '/srv/inlet')
  assert.deepEqual(config, {
    webhookSecret: null,
    webhookSecretPrevious: null,
    whatsappAppSecret: null,
    whatsappAppSecretPrevious: null,
    whatsappVerifyToken: null,
    whatsappMaxBodyBytes: 3 * 1024 * 1024,
    database: { kind: 'sqlite', file: path.resolve('/srv/inlet', 'data/app.db') },
    logLevel: 'info',
    port: 8000,
    host: '0.0.0.0',
    maxBodyBytes: 65536,
    sqliteBusyTimeoutMs: 5000,
    sqliteReadThreads: 2,
    readTimeoutMs: 5000,
    readQueueMax: 64,
    databasePoolMax: 10,
    headersTimeoutMs: 5000,
    requestTimeoutMs: 10000,
    keepAliveTimeoutMs: 72000,
    readApiToken: null,
    metricsToken: null,
    eventsHeartbeatMs: 10000,
    adminToken: null,
    forward: null,
    lifecycle: {
      retentionDays: null,
      tombstoneDays: 30,
      intervalMs: 3_600_000,
      chunkRows: 100,
      pauseMs: 100,
    },
  })
  assert.ok(Object.isFrozen(config))
})

test('DATABASE_URL: three slashes are relative to the working directory, four are absolute', () => {
  assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:///rel/x.db' }, '/w').database, {
    kind: 'sqlite',
    file: '/w/rel/x.db',
  })
  assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:////data/app.db' }, '/w').database, {
    kind: 'sqlite',
    file: '/data/app.db',
  })
  assert.deepEqual(loadConfig({ DATABASE_URL: 'postgresql://u:p@h/db' }).database, {
    kind: 'postgres',
    url: 'postgresql://u:p@h/db',
  })
})

test('LOG_LEVEL accepts DEBUG, INFO, WARNING, WARN and ERROR in any case', () => {
  const levels: [string, string][] = [
    ['debug', 'debug'],
    ['Info', 'info'],
    ['WARNING', 'warn'],
    ['warn', 'warn'],
    ['ERROR', 'error'],
  ]
  for (const [given, level] of levels) assert.equal(loadConfig({ LOG_LEVEL: given }).logLevel, level)
})

test('invalid values refuse start-up with every problem named by its variable, and no password', () => {
  assert.throws(
    () =>
      loadConfig({
        DATABASE_URL: 'mysql://user:hunter2@db/x',
        LOG_LEVEL: 'LOUD',
        PORT: '80a',
        MAX_BODY_BYTES: '0',
      }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError)
      assert.equal(error.problems.length, 4)
      for (const name of ['DATABASE_URL', 'LOG_LEVEL', 'PORT', 'MAX_BODY_BYTES']) {
        assert.ok(error.message.includes(name), name)
      }
      assert.equal(error.message.includes('hunter2'), false)
      return true
    },
  )
  assert.throws(() => loadConfig({ PORT: '65536' }), /PORT/)
  assert.throws(() => loadConfig({ DATABASE_URL: 'sqlite://relative.db' }), /DATABASE_URL/)
  assert.throws(() => loadConfig({ DATABASE_URL: 'sqlite:///' }), /DATABASE_URL/)
})

test('RETENTION_DAYS 0 or unset keeps messages forever; tombstones are kept at least the 7 days Meta retries', () => {
  assert.equal(loadConfig({ RETENTION_DAYS: '0' }).lifecycle.retentionDays, null)
  assert.deepEqual(
    loadConfig({ RETENTION_DAYS: '90', TOMBSTONE_DAYS: '7', RETENTION_INTERVAL_S: '60' }).lifecycle,
    { retentionDays: 90, tombstoneDays: 7, intervalMs: 60_000, chunkRows: 100, pauseMs: 100 },
  )
  assert.throws(() => loadConfig({ TOMBSTONE_DAYS: '6' }), /TOMBSTONE_DAYS must be an integer from 7/)
  assert.throws(() => loadConfig({ RETENTION_DAYS: '-1' }), /RETENTION_DAYS/)
})

test('an empty WEBHOOK_SECRET counts as not configured', () => {
  assert.equal(loadConfig({ WEBHOOK_SECRET: '' }).webhookSecret, null)
  assert.equal(loadConfig({ WEBHOOK_SECRET: 'k' }).webhookSecret, 'k')
})
