import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FORWARD_SECRET, type Received, startReceiver } from './helpers/receiver.js'
import { createTestApp, message, metricValue, postSigned, type TestApp } from './helpers/test-app.js'

// Forwarding (SPEC 2.4) to a real receiver over HTTP, on the adapter under test.

const ADMIN = { authorization: 'Bearer admin-token' }

const forwardingApp = (
  t: Parameters<typeof createTestApp>[0],
  url: string,
  env: Record<string, string> = {},
  database?: TestApp['database'],
) =>
  createTestApp(t, {
    ...(database ? { database } : {}),
    env: {
      FORWARD_URL: url,
      FORWARD_SECRET,
      ADMIN_TOKEN: 'admin-token',
      FORWARD_RETRY_SCHEDULE: '0,0',
      ...env,
    },
  })

async function deliveries(testApp: TestApp, query = '') {
  const response = await testApp.app.inject({ method: 'GET', url: `/deliveries?${query}` })
  assert.equal(response.statusCode, 200, response.body)
  return response.json() as { data: Record<string, unknown>[]; next: string | null }
}

/** Polls GET /deliveries until `predicate` holds (the forwarder records after each attempt). */
async function deliveriesUntil(testApp: TestApp, predicate: (rows: Record<string, unknown>[]) => boolean) {
  for (let i = 0; ; i++) {
    const { data } = await deliveries(testApp, 'limit=100')
    if (predicate(data)) return data
    if (i > 600) throw new Error(`deliveries never matched: ${JSON.stringify(data)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * A counter's value once it reaches `expected` (the forwarder thread reports its counts to
 * the main thread every few milliseconds), or its last value after a deadline.
 */
async function metricReaches(testApp: TestApp, series: string, expected: number): Promise<number> {
  let value = await metricValue(testApp.app, series)
  for (let i = 0; i < 100 && value !== expected; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    value = await metricValue(testApp.app, series)
  }
  return value
}

/** The log lines once `predicate` holds for them (the forwarder thread's lines are relayed in groups). */
async function logsWhen(testApp: TestApp, predicate: (lines: Record<string, unknown>[]) => boolean) {
  for (let i = 0; i < 100 && !predicate(testApp.logs()); i++)
    await new Promise((resolve) => setTimeout(resolve, 20))
  return testApp.logs()
}

const idOf = (r: Received) => r.headers['webhook-id']
const bodyOf = (r: Received) =>
  JSON.parse(r.body) as { type: string; timestamp: string; data: Record<string, unknown> }
const attemptLines = (testApp: TestApp) => testApp.logs().filter((l) => l.msg === 'forward attempt')

test('every event is POSTed to each destination, signed by the Standard Webhooks scheme', async (t) => {
  const one = await startReceiver(t)
  const two = await startReceiver(t)
  const testApp = await forwardingApp(t, `${one.url},${two.url}`)
  const bodies = [message({ text: 'héllo / wörld' }), message(), message()]
  for (const body of bodies) await postSigned(testApp.app, body)
  await one.until((r) => r.length === 3)
  await two.until((r) => r.length === 3)
  const feed = (await testApp.app.inject({ method: 'GET', url: '/events' })).json() as {
    data: { id: string; type: string; created_at: string; data: unknown }[]
  }
  for (const receiver of [one, two]) {
    const byId = new Map(receiver.received.map((r) => [idOf(r), r]))
    for (const event of feed.data) {
      const request = byId.get(event.id) as Received
      assert.ok(request, `event ${event.id} delivered`)
      assert.ok(!(request.verified instanceof Error), `signature verifies: ${String(request.verified)}`)
      assert.deepEqual(bodyOf(request), { type: event.type, timestamp: event.created_at, data: event.data })
      assert.equal(request.headers['content-type'], 'application/json')
      assert.match(request.headers['webhook-timestamp'] as string, /^\d{10}$/)
      assert.match(request.headers['webhook-signature'] as string, /^v1,[A-Za-z0-9+/]+=*$/)
    }
  }
  const rows = await deliveriesUntil(
    testApp,
    (d) => d.length === 6 && d.every((r) => r.status === 'delivered'),
  )
  for (const row of rows) {
    assert.equal(row.attempts, 1)
    assert.equal(row.last_status_code, 200)
    assert.equal(row.last_error, null)
    assert.equal(row.next_attempt_at, null)
    assert.match(row.delivered_at as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  }
  assert.deepEqual(Object.keys(rows[0] as object).sort(), [
    'attempts',
    'delivered_at',
    'destination',
    'event_id',
    'id',
    'last_error',
    'last_status_code',
    'next_attempt_at',
    'status',
  ])
  assert.equal(await metricReaches(testApp, 'forward_deliveries_total{result="delivered"}', 6), 6)
  assert.equal(await metricValue(testApp.app, 'forward_pending_deliveries'), 0)
  await logsWhen(testApp, (all) => all.filter((l) => l.msg === 'forward attempt').length >= 6)
  const lines = attemptLines(testApp)
  assert.equal(lines.length, 6)
  for (const line of lines) {
    assert.equal(line.status, 200)
    assert.equal(line.result, 'delivered')
    assert.equal(typeof line.latency_ms, 'number')
    assert.ok([one.url, two.url].includes(line.destination as string))
    assert.ok(feed.data.some((e) => e.id === line.event_id))
  }
  // Never the secret, never a body.
  const logText = JSON.stringify(testApp.logs())
  assert.ok(!logText.includes(FORWARD_SECRET.slice(6)))
  assert.ok(!logText.includes('héllo'))
})

test('a 500 and a timeout are retried with the same webhook-id, then delivered', async (t) => {
  const receiver = await startReceiver(t, (_r, i) =>
    i === 0 ? { status: 500 } : i === 1 ? 'hang' : { status: 204 },
  )
  const testApp = await forwardingApp(t, receiver.url, {
    FORWARD_TIMEOUT_MS: '300',
    FORWARD_RETRY_SCHEDULE: '0,0,0',
  })
  await postSigned(testApp.app, message())
  const [row] = await deliveriesUntil(testApp, (d) => d[0]?.status === 'delivered')
  assert.equal(receiver.received.length, 3)
  assert.equal(new Set(receiver.received.map(idOf)).size, 1, 'one webhook-id on every retry')
  assert.equal(row?.attempts, 3)
  assert.equal(row?.last_status_code, 204)
  assert.equal(await metricReaches(testApp, 'forward_deliveries_total{result="retry"}', 2), 2)
  assert.equal(await metricReaches(testApp, 'forward_deliveries_total{result="delivered"}', 1), 1)
  await logsWhen(testApp, (all) => all.filter((l) => l.msg === 'forward attempt').length >= 3)
  const errors = attemptLines(testApp).map((l) => l.error ?? null)
  assert.deepEqual(errors, ['HTTP 500', 'timed out after 300 ms', null])
})

test('a graceful stop gives back the leases of attempts it never started: they are due at once, not counted', async (t) => {
  // One attempt at a time to a receiver that never answers: one delivery in flight, one
  // leased and waiting for the slot, one not leased yet.
  const receiver = await startReceiver(t, () => 'hang')
  const testApp = await forwardingApp(t, receiver.url, {
    FORWARD_CONCURRENCY: '1',
    FORWARD_TIMEOUT_MS: '300',
    FORWARD_RETRY_SCHEDULE: '3600',
  })
  for (let i = 0; i < 3; i++) await postSigned(testApp.app, message())
  await receiver.until((received) => received.length === 1)
  await testApp.close()
  // Read back through an app without forwarding (the deliveries stay where they are).
  const after = await createTestApp(t, { database: testApp.database })
  const page = (await after.app.inject({ method: 'GET', url: '/deliveries?limit=10' })).json() as {
    data: {
      event_id: string
      status: string
      attempts: number
      last_error: string | null
      next_attempt_at: string
    }[]
  }
  const rows = [...page.data].reverse()
  assert.deepEqual(
    rows.map((row) => [row.status, row.attempts, row.last_error]),
    [
      ['pending', 1, 'timed out after 300 ms'],
      ['pending', 0, null],
      ['pending', 0, null],
    ],
  )
  assert.equal(receiver.received.length, 1, 'nothing else was attempted')
})

test('Retry-After on a 503 is honoured instead of the schedule', async (t) => {
  const receiver = await startReceiver(t, (_r, i) =>
    i === 0 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 },
  )
  // Without Retry-After the retry would wait an hour.
  const testApp = await forwardingApp(t, receiver.url, { FORWARD_RETRY_SCHEDULE: '3600' })
  await postSigned(testApp.app, message())
  await receiver.until((r) => r.length === 2)
  const [first, second] = receiver.received as [Received, Received]
  assert.ok(second.at - first.at >= 1000, `waited ${second.at - first.at} ms`)
  await deliveriesUntil(testApp, (d) => d[0]?.status === 'delivered')
})

test('after the schedule a delivery is failed; an admin retry attempts it again', async (t) => {
  let healthy = false
  const receiver = await startReceiver(t, () => ({ status: healthy ? 200 : 500 }))
  const testApp = await forwardingApp(t, receiver.url)
  await postSigned(testApp.app, message())
  const [failed] = await deliveriesUntil(testApp, (d) => d[0]?.status === 'failed')
  assert.equal(failed?.attempts, 3, 'the first attempt and one per scheduled retry')
  assert.equal(failed?.last_status_code, 500)
  assert.equal(failed?.last_error, 'HTTP 500')
  assert.equal(failed?.next_attempt_at, null)
  assert.equal(await metricReaches(testApp, 'forward_deliveries_total{result="failed"}', 1), 1)
  assert.equal(await metricReaches(testApp, 'forward_deliveries_total{result="retry"}', 2), 2)
  assert.deepEqual((await deliveries(testApp, 'status=failed')).data.length, 1)
  assert.deepEqual((await deliveries(testApp, 'status=pending')).data.length, 0)

  healthy = true
  const retry = await testApp.app.inject({
    method: 'POST',
    url: `/deliveries/${failed?.id}/retry`,
    headers: ADMIN,
  })
  assert.equal(retry.statusCode, 202)
  assert.deepEqual(retry.json(), { status: 'scheduled', id: failed?.id })
  const [delivered] = await deliveriesUntil(testApp, (d) => d[0]?.status === 'delivered')
  assert.equal(delivered?.attempts, 4)
  const again = await testApp.app.inject({
    method: 'POST',
    url: `/deliveries/${failed?.id}/retry`,
    headers: ADMIN,
  })
  assert.equal(again.statusCode, 409)
  assert.deepEqual(again.json(), { detail: 'only a failed delivery can be retried' })
  const unknown = await testApp.app.inject({
    method: 'POST',
    url: '/deliveries/999999/retry',
    headers: ADMIN,
  })
  assert.equal(unknown.statusCode, 404)
  assert.deepEqual(unknown.json(), { detail: 'delivery not found' })
})

test('410 Gone stops the destination and fails what is pending; a retry resumes it', async (t) => {
  let gone = true
  // The first answer waits until both messages are stored, so both have deliveries.
  let bothStored: () => void = () => {}
  const stored = new Promise<void>((resolve) => {
    bothStored = resolve
  })
  const receiver = await startReceiver(t, async () => {
    await stored
    return { status: gone ? 410 : 200 }
  })
  const testApp = await forwardingApp(t, receiver.url, { FORWARD_CONCURRENCY: '1' })
  await postSigned(testApp.app, message())
  await postSigned(testApp.app, message())
  await deliveriesUntil(testApp, (d) => d.length === 2)
  bothStored()
  const rows = await deliveriesUntil(testApp, (d) => d.length === 2 && d.every((r) => r.status === 'failed'))
  assert.equal(receiver.received.length, 1, 'nothing more is sent after the 410')
  assert.ok(rows.every((r) => String(r.last_error).includes('410 Gone')))
  const isLoud = (l: Record<string, unknown>) => String(l.msg).startsWith('destination answered 410 Gone')
  const loud = (await logsWhen(testApp, (lines) => lines.some(isLoud))).find(isLoud)
  assert.equal(loud?.level, 'error')
  // While stopped, new events get no deliveries.
  await postSigned(testApp.app, message())
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.equal((await deliveries(testApp)).data.length, 2)

  gone = false
  const retry = await testApp.app.inject({
    method: 'POST',
    url: `/deliveries/${rows[1]?.id}/retry`,
    headers: ADMIN,
  })
  assert.equal(retry.statusCode, 202)
  // The retried delivery and the event stored while stopped both arrive.
  const after = await deliveriesUntil(
    testApp,
    (d) => d.length === 3 && d.filter((r) => r.status === 'delivered').length === 2,
  )
  assert.equal(after.filter((r) => r.status === 'failed').length, 1)
})

test('a redirect is recorded as the answer and never followed', async (t) => {
  const target = await startReceiver(t)
  const receiver = await startReceiver(t, () => ({ status: 302, headers: { location: target.url } }))
  const testApp = await forwardingApp(t, receiver.url, { FORWARD_RETRY_SCHEDULE: '3600' })
  await postSigned(testApp.app, message())
  const [row] = await deliveriesUntil(testApp, (d) => d[0]?.attempts === 1 && d[0]?.last_status_code === 302)
  assert.equal(row?.status, 'pending')
  assert.equal(row?.last_error, 'HTTP 302 (redirects are not followed)')
  assert.equal(target.received.length, 0)
})

test('one slow event does not hold up the others', async (t) => {
  const receiver = await startReceiver(t, (_r, i) => (i === 0 ? 'hang' : { status: 200 }))
  const testApp = await forwardingApp(t, receiver.url, { FORWARD_TIMEOUT_MS: '60000' })
  for (let i = 0; i < 4; i++) await postSigned(testApp.app, message())
  const rows = await deliveriesUntil(testApp, (d) => d.filter((r) => r.status === 'delivered').length === 3)
  assert.equal(rows.filter((r) => r.status === 'pending').length, 1, 'the slow one is still in flight')
  assert.equal(await metricValue(testApp.app, 'forward_pending_deliveries'), 1)
  // The hanging delivery has been pending since before this scrape: its age is above zero.
  assert.ok((await metricValue(testApp.app, 'forward_oldest_pending_age_seconds')) > 0)
})

test('GET /deliveries pages newest first with a cursor', async (t) => {
  const receiver = await startReceiver(t)
  const testApp = await forwardingApp(t, receiver.url)
  for (let i = 0; i < 5; i++) await postSigned(testApp.app, message())
  await deliveriesUntil(testApp, (d) => d.length === 5 && d.every((r) => r.status === 'delivered'))
  const first = await deliveries(testApp, 'limit=2')
  const second = await deliveries(testApp, `limit=2&cursor=${first.next}`)
  const third = await deliveries(testApp, `limit=2&cursor=${second.next}`)
  const ids = [...first.data, ...second.data, ...third.data].map((r) => r.id as number)
  assert.equal(ids.length, 5)
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => b - a),
  )
  assert.equal(third.next, null)
  const bad = await testApp.app.inject({ method: 'GET', url: '/deliveries?status=lost' })
  assert.equal(bad.statusCode, 422)
})

test('a destination configured later starts with the events stored after it; older ones stay in GET /events', async (t) => {
  const before = await createTestApp(t)
  const old = message()
  await postSigned(before.app, old)
  await before.close()
  const receiver = await startReceiver(t)
  const testApp = await forwardingApp(t, receiver.url, {}, before.database)
  const fresh = message()
  await postSigned(testApp.app, fresh)
  await deliveriesUntil(testApp, (d) => d.length === 1 && d[0]?.status === 'delivered')
  assert.deepEqual(
    receiver.received.map((r) => bodyOf(r).data.message_id),
    [fresh.message_id],
  )
  const feed = (await testApp.app.inject({ method: 'GET', url: '/events' })).json()
  assert.deepEqual(
    feed.data.map((e: { data: { message_id: string } }) => e.data.message_id),
    [old.message_id, fresh.message_id],
  )
})

test('forwarding configuration is checked at start', async () => {
  const { loadConfig, ConfigError } = await import('../src/config.js')
  assert.throws(
    () => loadConfig({ FORWARD_URL: 'http://127.0.0.1:1/x' }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError)
      assert.match(e.message, /FORWARD_SECRET is required when FORWARD_URL is set/)
      return true
    },
  )
  assert.throws(
    () => loadConfig({ FORWARD_URL: 'ftp://x', FORWARD_SECRET: 'nope', FORWARD_RETRY_SCHEDULE: '5,x' }),
    (e: unknown) => {
      const problems = (e as InstanceType<typeof ConfigError>).problems
      assert.equal(problems.length, 3)
      return true
    },
  )
  const config = loadConfig({ FORWARD_URL: 'http://a/1, https://b/2', FORWARD_SECRET })
  assert.deepEqual(config.forward, {
    urls: ['http://a/1', 'https://b/2'],
    secret: FORWARD_SECRET,
    timeoutMs: 10000,
    retryScheduleS: [5, 300, 1800, 7200, 18000, 36000, 36000],
    concurrency: 16,
  })
})
