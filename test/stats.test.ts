import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createTestApp, message, postSigned } from './helpers/test-app.js'

test('GET /stats on an empty store answers zeros, [] and nulls', async (t) => {
  const { app } = await createTestApp(t)
  const response = await app.inject({ method: 'GET', url: '/stats' })
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), {
    total_messages: 0,
    senders_count: 0,
    messages_per_sender: [],
    first_message_ts: null,
    last_message_ts: null,
  })
})

test('GET /stats counts messages and senders, ranks the top 10 with ties by from, and finds first/last by instant', async (t) => {
  const { app } = await createTestApp(t)
  // 12 senders: +1012 sends 5, +1011 4, then +1000…+1010 send 1 each except +1005 (2).
  const bodies: Record<string, unknown>[] = []
  const counts: Record<string, number> = { '+1012': 5, '+1011': 4, '+1005': 2 }
  for (let s = 0; s <= 12; s++) {
    const from = `+${1000 + s}`
    for (let i = 0; i < (counts[from] ?? 1); i++) bodies.push(message({ from, ts: '2025-06-01T12:00:00Z' }))
  }
  bodies.push(message({ from: '+1012', ts: '2025-06-01T11:59:59.9990Z' })) // earliest, as stored
  bodies.push(message({ from: '+1011', ts: '2025-06-02T00:00:00.5Z' })) // latest
  for (const body of bodies) assert.equal((await postSigned(app, body)).statusCode, 200)
  // A duplicate changes nothing.
  assert.equal((await postSigned(app, { ...bodies[0], from: '+1012' })).statusCode, 200)

  const stats = (await app.inject({ method: 'GET', url: '/stats' })).json()
  assert.deepEqual(stats, {
    total_messages: bodies.length,
    senders_count: 13,
    messages_per_sender: [
      { from: '+1012', count: 6 },
      { from: '+1011', count: 5 },
      { from: '+1005', count: 2 },
      { from: '+1000', count: 1 },
      { from: '+1001', count: 1 },
      { from: '+1002', count: 1 },
      { from: '+1003', count: 1 },
      { from: '+1004', count: 1 },
      { from: '+1006', count: 1 },
      { from: '+1007', count: 1 },
    ],
    first_message_ts: '2025-06-01T11:59:59.9990Z',
    last_message_ts: '2025-06-02T00:00:00.5Z',
  })
})

test('GET /stats/timeline lists every bucket of the window ending with the latest message, zeros included', async (t) => {
  const { app } = await createTestApp(t)
  const empty = await app.inject({ method: 'GET', url: '/stats/timeline' })
  assert.equal(empty.statusCode, 200)
  assert.deepEqual(empty.json(), { bucket: 'day', data: [] })

  // Offsets are not in the grammar; fractions are, and a leap day; the newest is 2024-03-01T10:30.
  const times = [
    '2024-01-31T23:59:59Z', // one second before a 30-day window ending 2024-03-01
    '2024-02-28T23:59:59.999Z',
    '2024-02-29T00:00:00Z',
    '2024-02-29T12:00:00.5Z',
    '2024-03-01T09:59:59Z',
    '2024-03-01T10:00:00Z',
    '2024-03-01T10:30:00Z',
  ]
  for (const ts of times) assert.equal((await postSigned(app, message({ ts }))).statusCode, 200)

  const days = (await app.inject({ method: 'GET', url: '/stats/timeline?buckets=3' })).json()
  assert.deepEqual(days, {
    bucket: 'day',
    data: [
      { start: '2024-02-28T00:00:00Z', count: 1 },
      { start: '2024-02-29T00:00:00Z', count: 2 },
      { start: '2024-03-01T00:00:00Z', count: 3 },
    ],
  })
  const month = (await app.inject({ method: 'GET', url: '/stats/timeline' })).json()
  assert.equal(month.data.length, 30)
  assert.deepEqual(month.data[0], { start: '2024-02-01T00:00:00Z', count: 0 })
  assert.equal(
    month.data.reduce((sum: number, point: { count: number }) => sum + point.count, 0),
    6,
  )

  const hours = (await app.inject({ method: 'GET', url: '/stats/timeline?bucket=hour&buckets=12' })).json()
  assert.equal(hours.bucket, 'hour')
  assert.equal(hours.data.length, 12)
  assert.deepEqual(hours.data.at(0), { start: '2024-02-29T23:00:00Z', count: 0 })
  assert.deepEqual(hours.data.slice(-2), [
    { start: '2024-03-01T09:00:00Z', count: 1 },
    { start: '2024-03-01T10:00:00Z', count: 2 },
  ])

  for (const url of [
    '/stats/timeline?bucket=week',
    '/stats/timeline?buckets=0',
    '/stats/timeline?buckets=745',
  ]) {
    const bad = await app.inject({ method: 'GET', url })
    assert.equal(bad.statusCode, 422, url)
    assert.equal(bad.json().detail[0].loc[0], 'query')
  }
})
