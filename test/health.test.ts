import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createTestApp } from './helpers/test-app.js'

test('GET /health/live answers 200 {"status":"ok"}', async (t) => {
  const { app } = await createTestApp(t)
  const response = await app.inject({ method: 'GET', url: '/health/live' })
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), { status: 'ok' })
})

test('GET /health/ready answers 200 when the database answers, the schema is applied and the secret is set', async (t) => {
  const { app } = await createTestApp(t)
  const response = await app.inject({ method: 'GET', url: '/health/ready' })
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), {
    status: 'ok',
    checks: { database: true, schema: true, webhook_secret: true },
  })
})

test('GET /health/ready answers 503 naming the missing secret', async (t) => {
  const { app } = await createTestApp(t, { env: { WEBHOOK_SECRET: '' } })
  const response = await app.inject({ method: 'GET', url: '/health/ready' })
  assert.equal(response.statusCode, 503)
  assert.deepEqual(response.json(), {
    status: 'unavailable',
    checks: { database: true, schema: true, webhook_secret: false },
  })
})

test('GET /health/ready answers 503 when the database is gone, while /health/live stays 200', async (t) => {
  const { app, store } = await createTestApp(t)
  await store.close()
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  assert.equal(ready.statusCode, 503)
  assert.deepEqual(ready.json().checks, { database: false, schema: false, webhook_secret: true })
  assert.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200)
})
