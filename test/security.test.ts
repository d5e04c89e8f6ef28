import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { createTestApp, message, postSigned } from './helpers/test-app.js'

const READ_TOKEN = 'read-token-5f2c9a'
const METRICS_TOKEN = 'metrics-token-81d0e4'

const get = (app: Awaited<ReturnType<typeof createTestApp>>['app'], url: string, authorization?: string) =>
  app.inject({ method: 'GET', url, headers: authorization === undefined ? {} : { authorization } })

test('with READ_API_TOKEN set, the read endpoints need the bearer token; the others do not', async (t) => {
  const { app, logs } = await createTestApp(t, { env: { READ_API_TOKEN: READ_TOKEN } })
  assert.equal((await postSigned(app, message())).statusCode, 200)
  const refusals = [
    undefined,
    '',
    'Bearer',
    `Bearer ${READ_TOKEN}x`,
    `Bearer ${READ_TOKEN.slice(1)}`,
    `Basic ${READ_TOKEN}`,
    READ_TOKEN,
    `Bearer ${METRICS_TOKEN}`,
  ]
  for (const url of ['/messages', '/messages?q=hello&limit=5', '/stats']) {
    for (const authorization of refusals) {
      const response = await get(app, url, authorization)
      assert.equal(response.statusCode, 401, `${url} ${authorization}`)
      assert.deepEqual(response.json(), { detail: 'unauthorized' })
      assert.equal(response.headers['www-authenticate'], 'Bearer')
    }
    for (const authorization of [`Bearer ${READ_TOKEN}`, `bearer ${READ_TOKEN}`, `BEARER  ${READ_TOKEN}`]) {
      assert.equal((await get(app, url, authorization)).statusCode, 200, `${url} ${authorization}`)
    }
  }
  // Unaffected: the webhook (it has its signature), the probes and the metrics.
  assert.equal((await postSigned(app, message())).statusCode, 200)
  for (const url of ['/health/live', '/health/ready', '/metrics'])
    assert.equal((await get(app, url)).statusCode, 200, url)
  assert.equal(JSON.stringify(logs()).includes(READ_TOKEN), false, 'the token is never logged')
})

test('with METRICS_TOKEN set, GET /metrics needs its bearer token; reads stay open without READ_API_TOKEN', async (t) => {
  const { app, logs } = await createTestApp(t, { env: { METRICS_TOKEN } })
  const refused = await get(app, '/metrics', `Bearer ${READ_TOKEN}`)
  assert.equal(refused.statusCode, 401)
  assert.deepEqual(refused.json(), { detail: 'unauthorized' })
  const scraped = await get(app, '/metrics', `Bearer ${METRICS_TOKEN}`)
  assert.equal(scraped.statusCode, 200)
  assert.match(scraped.body, /^webhook_requests_total/m)
  assert.equal((await get(app, '/messages')).statusCode, 200)
  assert.equal((await get(app, '/stats')).statusCode, 200)
  assert.equal(JSON.stringify(logs()).includes(METRICS_TOKEN), false, 'the token is never logged')
})

test('q longer than a text can be answers 422 naming ["query","q"]', async (t) => {
  const { app } = await createTestApp(t)
  assert.equal((await get(app, `/messages?q=${'é'.repeat(4096)}`)).statusCode, 200)
  const response = await get(app, `/messages?q=${'é'.repeat(4097)}`)
  assert.equal(response.statusCode, 422)
  assert.deepEqual(
    response.json().detail.map((issue: { loc: string[] }) => issue.loc),
    [['query', 'q']],
  )
})

/**
 * Every series (name and labels) in a Prometheus exposition, without the values. The GC
 * histogram is left out: its `kind` label gains one of V8's few collection kinds whenever a
 * collection of that kind first happens, which no request chooses.
 */
const seriesOf = (exposition: string) =>
  exposition
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith('nodejs_gc_duration_seconds'))
    .map((line) => line.slice(0, line.lastIndexOf(' ')))
    .sort()

test('100,000 requests to random paths and query strings add no metric series', async (t) => {
  const { app } = await createTestApp(t)
  const random = () => randomBytes(6).toString('base64url')
  // Once each, so the series every kind of request creates exist before counting.
  await app.inject({ method: 'GET', url: '/nope' })
  await app.inject({ method: 'GET', url: '/messages?x=1' })
  await app.inject({ method: 'POST', url: '/nope', payload: '{}' })
  await app.inject({ method: 'POST', url: '/messages?x=1' })
  await get(app, '/metrics')
  const before = seriesOf((await get(app, '/metrics')).body)
  for (let i = 0; i < 100_000; i++) {
    const path = i % 3 === 0 ? `/messages?${random()}=${random()}` : `/${random()}/${random()}?${random()}`
    await app.inject({ method: i % 2 === 0 ? 'GET' : 'POST', url: path })
  }
  assert.deepEqual(seriesOf((await get(app, '/metrics')).body), before)
})
