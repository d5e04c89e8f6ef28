import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createTestApp, message, metricValue, postSigned } from './helpers/test-app.js'

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

test('every request writes exactly one JSON access line with the contract fields', async (t) => {
  const testApp = await createTestApp(t)
  const { app } = testApp
  await app.inject({ method: 'GET', url: '/messages?limit=5&q=secret-query' })
  await app.inject({ method: 'GET', url: '/stats' })
  await app.inject({ method: 'GET', url: '/nowhere?x=1' })
  await app.inject({ method: 'PUT', url: '/messages' })
  const lines = testApp.accessLines()
  assert.equal(lines.length, 4)
  assert.deepEqual(
    lines.map((l) => [l.method, l.path, l.status]),
    [
      ['GET', '/messages', 200],
      ['GET', '/stats', 200],
      ['GET', '/nowhere', 404],
      ['PUT', '/messages', 405],
    ],
  )
  for (const line of lines) {
    assert.match(line.ts as string, ISO_MS)
    assert.equal(line.level, 'info')
    assert.equal(typeof line.request_id, 'string')
    assert.equal(typeof line.latency_ms, 'number')
    assert.ok((line.latency_ms as number) >= 0)
    assert.equal('dup' in line, false, 'dup is only on /webhook lines')
  }
})

test('/webhook access lines carry dup, result and message_id on every outcome', async (t) => {
  const testApp = await createTestApp(t)
  const { app } = testApp
  const body = message({ message_id: 'log-1' })
  await postSigned(app, body)
  await postSigned(app, body)
  await app.inject({
    method: 'POST',
    url: '/webhook',
    payload: JSON.stringify(body),
    headers: { 'x-signature': 'x' },
  })
  await postSigned(app, { ...message({ message_id: 'log-2' }), from: 'bad' })
  await postSigned(app, '[]')
  await postSigned(app, { ...message(), message_id: 42 })
  await app.inject({ method: 'GET', url: '/webhook' })
  const lines = testApp.accessLines()
  assert.deepEqual(
    lines.map((l) => [l.status, l.result, l.dup, l.message_id, l.level]),
    [
      [200, 'created', false, 'log-1', 'info'],
      [200, 'duplicate', true, 'log-1', 'info'],
      [401, 'invalid_signature', false, undefined, 'error'],
      [422, 'validation_error', false, 'log-2', 'info'],
      [422, 'validation_error', false, undefined, 'info'],
      [422, 'validation_error', false, 42, 'info'],
      [405, 'method_not_allowed', false, undefined, 'info'],
    ],
  )
})

test('X-Request-Id is echoed when short and safe, replaced by a UUID otherwise', async (t) => {
  const testApp = await createTestApp(t)
  const { app } = testApp
  const kept = await app.inject({
    method: 'GET',
    url: '/health/live',
    headers: { 'x-request-id': 'abc-123_X.y' },
  })
  assert.equal(kept.headers['x-request-id'], 'abc-123_X.y')
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
  for (const bad of ['a'.repeat(129), 'has space', 'quote"d', 'new\\nline', 'émoji']) {
    const response = await app.inject({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': bad },
    })
    assert.match(response.headers['x-request-id'] as string, uuid, bad)
  }
  const fresh = await app.inject({ method: 'GET', url: '/health/live' })
  assert.match(fresh.headers['x-request-id'] as string, uuid)
  const ids = testApp.accessLines().map((l) => l.request_id)
  assert.equal(ids[0], 'abc-123_X.y')
  assert.equal(ids.at(-1), fresh.headers['x-request-id'])
})

test('the secret and the signature never appear in the logs', async (t) => {
  const testApp = await createTestApp(t, { env: { WEBHOOK_SECRET: 'sup3r-s3cret-value' } })
  const raw = JSON.stringify(message())
  const response = await postSigned(testApp.app, raw, { secret: 'sup3r-s3cret-value' })
  assert.equal(response.statusCode, 200)
  const everything = JSON.stringify(testApp.logs())
  assert.equal(everything.includes('sup3r-s3cret-value'), false)
  const signature = (await import('../src/sources/webhook/signature.js')).signWebhookBody(
    'sup3r-s3cret-value',
    Buffer.from(raw),
  )
  assert.equal(everything.includes(signature), false)
})

test('GET /metrics exposes the counters, labelled by route template, and the latency histogram', async (t) => {
  const { app } = await createTestApp(t)
  const created = 'webhook_requests_total{result="created"}'
  const messages200 = 'http_requests_total{path="/messages",status="200"}'
  const before = {
    created: await metricValue(app, created),
    duplicate: await metricValue(app, 'webhook_requests_total{result="duplicate"}'),
    validation: await metricValue(app, 'webhook_requests_total{result="validation_error"}'),
    messages: await metricValue(app, messages200),
    unmatched: await metricValue(app, 'http_requests_total{path="unmatched",status="404"}'),
    count: await metricValue(app, 'request_latency_ms_count'),
  }
  const body = message()
  await postSigned(app, body)
  await postSigned(app, body)
  await postSigned(app, { ...message(), ts: 'bad' })
  await app.inject({ method: 'GET', url: '/messages?limit=3' })
  await app.inject({ method: 'GET', url: '/messages?offset=2&q=zzz' })
  await app.inject({ method: 'GET', url: '/random/1?a=b' })
  await app.inject({ method: 'GET', url: '/random/2' })

  const response = await app.inject({ method: 'GET', url: '/metrics' })
  assert.equal(response.statusCode, 200)
  assert.match(response.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/)
  const text = response.body
  assert.equal(await metricValue(app, created), before.created + 1)
  assert.equal(await metricValue(app, 'webhook_requests_total{result="duplicate"}'), before.duplicate + 1)
  assert.equal(
    await metricValue(app, 'webhook_requests_total{result="validation_error"}'),
    before.validation + 1,
  )
  assert.equal(await metricValue(app, messages200), before.messages + 2)
  assert.equal(
    await metricValue(app, 'http_requests_total{path="unmatched",status="404"}'),
    before.unmatched + 2,
  )
  assert.equal(text.includes('limit=3'), false, 'no query string in a label')
  assert.equal(text.includes('/random'), false, 'no raw URL in a label')
  // The histogram: cumulative buckets including 100 and 500 and a sub-millisecond one; +Inf equals _count.
  assert.match(text, /^# TYPE request_latency_ms histogram$/m)
  const buckets = [...text.matchAll(/^request_latency_ms_bucket\{le="([^"]+)"\} (\d+)$/gm)].map(
    (m) => [m[1], Number(m[2])] as const,
  )
  const les = buckets.map(([le]) => le)
  for (const le of ['0.1', '0.5', '100', '500', '+Inf']) assert.ok(les.includes(le), `bucket ${le}`)
  for (let i = 1; i < buckets.length; i++) assert.ok((buckets[i]?.[1] ?? 0) >= (buckets[i - 1]?.[1] ?? 0))
  const count = Number(/^request_latency_ms_count (\d+)$/m.exec(text)?.[1])
  assert.equal(buckets.at(-1)?.[1], count)
  assert.ok(count >= before.count + 7)
  assert.match(text, /^request_latency_ms_sum [0-9.e+-]+$/m)
  // Default process metrics.
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_seconds',
  ]) {
    assert.match(text, new RegExp(`^${name} `, 'm'), name)
  }
})
