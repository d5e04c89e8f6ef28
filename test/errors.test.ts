import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { createLogger } from '../src/observability/logger.js'
import type { InletStore } from '../src/storage/open-store.js'
import { createTestApp, message, postSigned } from './helpers/test-app.js'

test('an unknown route answers 404 {"detail":"Not Found"}', async (t) => {
  const { app } = await createTestApp(t)
  for (const url of ['/', '/nope', '/messages/extra', '/webhook/', '/health']) {
    const response = await app.inject({ method: 'GET', url })
    assert.equal(response.statusCode, 404, url)
    assert.equal(response.body, '{"detail":"Not Found"}')
  }
})

test('a wrong method on a known path answers 405 {"detail":"Method Not Allowed"} with Allow', async (t) => {
  const { app } = await createTestApp(t)
  const cases: [string, string, string][] = [
    ['GET', '/webhook', 'POST'],
    ['PUT', '/webhook', 'POST'],
    ['POST', '/messages', 'GET, DELETE, HEAD'],
    ['DELETE', '/stats', 'GET, HEAD'],
    ['POST', '/health/live', 'GET, HEAD'],
    ['PATCH', '/health/ready', 'GET, HEAD'],
    ['POST', '/metrics', 'GET, HEAD'],
    ['TRACE', '/messages', 'GET, DELETE, HEAD'],
  ]
  for (const [method, url, allow] of cases) {
    const response = await app.inject({
      method: method as 'GET',
      url,
      payload: method === 'GET' ? undefined : '{"broken json',
      headers: { 'content-type': 'application/json' },
    })
    assert.equal(response.statusCode, 405, `${method} ${url}`)
    assert.equal(response.body, '{"detail":"Method Not Allowed"}')
    assert.equal(response.headers.allow, allow)
  }
})

test('an URL that cannot be decoded answers 400 in the contract shape and is logged once', async (t) => {
  const testApp = await createTestApp(t)
  const response = await testApp.app.inject({ method: 'GET', url: '/%zz' })
  assert.equal(response.statusCode, 400)
  assert.deepEqual(response.json(), { detail: 'Bad Request' })
  assert.equal(typeof response.headers['x-request-id'], 'string')
  assert.deepEqual(
    testApp.accessLines().map((l) => [l.path, l.status]),
    [['/%zz', 400]],
  )
})

test('a database whose schema was broken under the app answers 503 storage unavailable, cause in the log', async (t) => {
  const testApp = await createTestApp(t)
  assert.equal((await postSigned(testApp.app, message())).statusCode, 200)
  await testApp.database.execute('ALTER TABLE messages RENAME COLUMN text TO body')
  const response = await testApp.app.inject({ method: 'GET', url: '/messages' })
  assert.equal(response.statusCode, 503)
  assert.deepEqual(response.json(), { detail: 'storage unavailable' })
  assert.equal(response.body.includes('body'), false)
  const errorLines = testApp.logs().filter((l) => l.level === 'error')
  assert.ok(
    // SQLite's and PostgreSQL's words for the missing column.
    errorLines.some((l) => /no such column: text|column \\"text\\" does not exist/.test(JSON.stringify(l))),
    'cause is logged',
  )
})

test('an unexpected failure answers a generic 500; the cause goes to the log only', async (t) => {
  // The one test double in the suite: a store that fails in a way no adapter maps,
  // which is exactly the case the generic 500 exists for.
  const failing = (): Promise<never> =>
    Promise.reject(new Error('driver said: secret internals at /var/lib/x'))
  const store: InletStore = {
    insert: failing,
    ingest: failing,
    delete: failing,
    pruneTombstones: failing,
    list: failing,
    exportPage: failing,
    getMessage: failing,
    getStatus: failing,
    listStatuses: failing,
    stats: failing,
    timeline: failing,
    readEvents: failing,
    feedHead: failing,
    onEvents: () => () => {},
    listDeliveries: failing,
    deliveryBacklog: failing,
    health: async () => ({ database: true, schema: true }),
    close: async () => {},
  }
  const lines: string[] = []
  const logger = createLogger('info', { write: (line: string) => void lines.push(line) })
  const app = buildApp({ config: loadConfig({ WEBHOOK_SECRET: 's' }), store, logger })
  t.after(() => app.close())
  const response = await app.inject({ method: 'GET', url: '/stats' })
  assert.equal(response.statusCode, 500)
  assert.equal(response.body, '{"detail":"Internal Server Error"}')
  const parsed = lines.map((line) => JSON.parse(line))
  const cause = parsed.find((l) => l.level === 'error' && JSON.stringify(l).includes('secret internals'))
  assert.ok(cause, 'the cause is logged')
  const access = parsed.filter((l) => l.msg === 'request completed')
  assert.equal(cause.request_id, access[0]?.request_id, 'the cause line names its request')
  assert.equal(cause.request_id, response.headers['x-request-id'])
  assert.deepEqual(
    access.map((l) => [l.status, l.level]),
    [[500, 'error']],
  )
})

test('a request Node cannot parse gets {"detail":"Bad Request"} over a real socket, and a log line', async (t) => {
  const testApp = await createTestApp(t)
  await testApp.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = testApp.app.server.address() as { port: number }
  const { connect } = await import('node:net')
  const exchange = (raw: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.end(raw))
      let answer = ''
      socket.on('data', (chunk) => {
        answer += chunk
      })
      socket.on('close', () => resolve(answer))
      socket.on('error', reject)
    })
  for (const raw of ['FOO / HTTP/1.1\r\nHost: x\r\n\r\n', 'GET / HTTP/1.1\r\nBad Header\r\n\r\n']) {
    const answer = await exchange(raw)
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/)
    assert.ok(answer.endsWith('\r\n\r\n{"detail":"Bad Request"}'), answer)
  }
  const huge = await exchange(`GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)
  assert.match(huge, /^HTTP\/1\.1 431 /)
  assert.ok(huge.endsWith('{"detail":"Request Header Fields Too Large"}'))
  const refused = testApp.logs().filter((l) => l.msg === 'malformed request refused')
  assert.deepEqual(
    refused.map((l) => l.status),
    [400, 400, 431],
  )
})
