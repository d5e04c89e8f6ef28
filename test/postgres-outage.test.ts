import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createConnection, createServer, type Socket } from 'node:net'
import { test } from 'node:test'
import { PostgresMessageStore } from '../src/storage/postgres/postgres-store.js'
import { createTestApp, message, postSigned, type TestApp } from './helpers/test-app.js'
import {
  freshSchema,
  POSTGRES_SKIP_REASON,
  TEST_DATABASE_URL,
  type TestDatabase,
} from './helpers/test-database.js'

/**
 * A TCP proxy between Inlet and PostgreSQL that can be cut: every open connection is
 * dropped and new ones are refused at once, as when the database's host goes away.
 */
async function startProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>()
  let cut = false
  const server = createServer((client) => {
    if (cut) {
      client.destroy()
      return
    }
    const upstream = createConnection(target)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {})
    }
    client.pipe(upstream).pipe(client)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      cut = true
      for (const socket of sockets) socket.destroy()
    },
    restore() {
      cut = false
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

const get = (testApp: TestApp, url: string) => testApp.app.inject({ method: 'GET', url })

test('when PostgreSQL goes away, readiness, writes and reads answer 503; when it returns all recover, nothing acknowledged is lost', {
  skip: POSTGRES_SKIP_REASON,
  timeout: 60_000,
}, async (t) => {
  const server = new URL(TEST_DATABASE_URL as string)
  const proxy = await startProxy({ host: server.hostname, port: Number(server.port || 5432) })
  let testApp: TestApp | undefined
  const { url: direct } = await freshSchema(t, async () => {
    await testApp?.close()
    await proxy.close()
  })
  const viaProxy = new URL(direct)
  viaProxy.host = `127.0.0.1:${proxy.port}`
  const database: TestDatabase = {
    url: viaProxy.toString(),
    openStore: () => PostgresMessageStore.open({ url: viaProxy.toString(), connectTimeoutMs: 1000 }),
    rows: async () => [],
    execute: async () => {},
  }
  testApp = await createTestApp(t, { database })
  const acknowledged: string[] = []
  const send = async () => {
    const body = message()
    const response = await postSigned(testApp?.app as TestApp['app'], body)
    if (response.statusCode === 200) acknowledged.push(body.message_id as string)
    return response
  }
  for (let i = 0; i < 20; i++) assert.equal((await send()).statusCode, 200)

  // Cut while a burst is in flight: each request is either committed (200) or refused (503).
  const burst = Array.from({ length: 40 }, () => send())
  proxy.cut()
  for (const response of await Promise.all(burst)) {
    assert.ok([200, 503].includes(response.statusCode), `status ${response.statusCode}`)
    if (response.statusCode === 503) assert.deepEqual(response.json(), { detail: 'storage unavailable' })
  }

  const ready = await get(testApp, '/health/ready')
  assert.equal(ready.statusCode, 503)
  assert.deepEqual(ready.json().checks, { database: false, schema: false, webhook_secret: true })
  assert.equal((await get(testApp, '/health/live')).statusCode, 200)
  const refused = await send()
  assert.equal(refused.statusCode, 503)
  assert.deepEqual(refused.json(), { detail: 'storage unavailable' })
  for (const url of ['/messages', '/messages?q=hello', '/stats']) {
    const response = await get(testApp, url)
    assert.equal(response.statusCode, 503, url)
    assert.deepEqual(response.json(), { detail: 'storage unavailable' })
  }

  // Back, without a restart: the pool opens new connections on demand.
  proxy.restore()
  assert.equal((await get(testApp, '/health/ready')).statusCode, 200)
  for (let i = 0; i < 20; i++) assert.equal((await send()).statusCode, 200)

  const ids = new Set<string>()
  for (let offset = 0; ; offset += 100) {
    const page = (await get(testApp, `/messages?limit=100&offset=${offset}`)).json()
    for (const item of page.data) ids.add(item.message_id)
    if (offset + 100 >= page.total) break
  }
  for (const id of acknowledged) assert.ok(ids.has(id), `acknowledged ${id} is stored`)
  assert.ok(acknowledged.length >= 40)
})
