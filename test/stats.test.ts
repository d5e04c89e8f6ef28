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
