import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createConnection, createServer, type Socket } from 'node:net'
import { test } from 'node:test'
import { PostgresMessageStore } from '../src/storage/postgres/postgres-store.js'
import { FORWARD_SECRET, startReceiver } from './helpers/receiver.js'
import { createTestApp, message, postSigned, type TestApp } from './helpers/test-app.js'
import {
  freshSchema,
  POSTGRES_SKIP_REASON,
  TEST_DATABASE_URL,
  type TestDatabase,
} from './helpers/test-database.js'

/**
 * A TCP proxy between Inlet and PostgreSQL that can be cut (every open connection dropped,
 * new ones refused at once, as when the database's host goes away) or stalled (connections
 * stay open but nothing passes, as when packets are silently lost).
 */
async function startProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>()
  let mode: 'pass' | 'cut' | 'stall' = 'pass'
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
  }
  const server = createServer((client) => {
    track(client)
    if (mode === 'cut') client.destroy()
    if (mode !== 'pass') return // stalled: the client waits for an answer that never comes
    const upstream = createConnection(target)
    track(upstream)
    client.pipe(upstream).pipe(client)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      mode = 'cut'
      for (const socket of sockets) socket.destroy()
    },
    stall() {
      mode = 'stall'
      for (const socket of sockets) socket.pause()
    },
    restore() {
      mode = 'pass'
      for (const socket of sockets) socket.resume()
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      }),
  }
}

/** The app on a fresh schema, reaching PostgreSQL through a proxy the test controls. */
async function appBehindProxy(
  t: Parameters<typeof createTestApp>[0],
  storeTimeouts: { connectTimeoutMs: number; queryTimeoutMs?: number },
  env: Record<string, string> = {},
) {
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
    openStore: () => PostgresMessageStore.open({ url: viaProxy.toString(), ...storeTimeouts }),
    rows: async () => [],
    execute: async () => {},
    query: async () => [],
  }
  testApp = await createTestApp(t, { database, env })
  return { testApp, proxy }
}

const get = (testApp: TestApp, url: string) => testApp.app.inject({ method: 'GET', url })

for (const forwarding of [false, true]) {
  test(
    `when PostgreSQL goes away, readiness, writes and reads answer 503; when it returns all recover, nothing acknowledged is lost${forwarding ? ' (forwarding on: every acknowledged message is then delivered)' : ''}`,
    {
      skip: POSTGRES_SKIP_REASON,
      timeout: 60_000,
    },
    (t) => outage(t, forwarding),
  )
}

async function outage(t: Parameters<typeof createTestApp>[0], forwarding: boolean) {
  const receiver = forwarding ? await startReceiver(t) : undefined
  // A short timeout: an attempt whose result could not be recorded in the outage is made
  // again once its lease (timeout + margin) runs out.
  const env: Record<string, string> = receiver
    ? { FORWARD_URL: receiver.url, FORWARD_SECRET, FORWARD_TIMEOUT_MS: '1000' }
    : {}
  const { testApp, proxy } = await appBehindProxy(t, { connectTimeoutMs: 1000 }, env)
  const acknowledged: string[] = []
  const send = async () => {
    const body = message()
    const response = await postSigned(testApp.app, body)
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
  if (receiver !== undefined) {
    const deliveredIds = () =>
      new Set(
        receiver.received.map(
          (r) => (JSON.parse(r.body) as { data: { message_id: string } }).data.message_id,
        ),
      )
    await receiver.until(() => acknowledged.every((id) => deliveredIds().has(id)))
  }
}

test('when PostgreSQL stops answering without closing connections, requests answer 503 after the timeouts instead of hanging', {
  skip: POSTGRES_SKIP_REASON,
  timeout: 60_000,
}, async (t) => {
  const { testApp, proxy } = await appBehindProxy(t, { connectTimeoutMs: 300, queryTimeoutMs: 300 })
  assert.equal((await postSigned(testApp.app, message())).statusCode, 200)
  // A listening server keeps its process alive while it waits; this test has none, and
  // paused sockets do not, so a timer stands in for it.
  const alive = setInterval(() => {}, 1000)
  t.after(() => clearInterval(alive))
  proxy.stall()
  const started = Date.now()
  const [written, read, ready] = await Promise.all([
    postSigned(testApp.app, message()),
    get(testApp, '/messages'),
    get(testApp, '/health/ready'),
  ])
  assert.deepEqual([written.statusCode, read.statusCode, ready.statusCode], [503, 503, 503])
  assert.deepEqual(written.json(), { detail: 'storage unavailable' })
  assert.ok(Date.now() - started < 5000, `answered after ${Date.now() - started} ms`)
  proxy.restore()
  const deadline = Date.now() + 10_000
  while ((await get(testApp, '/health/ready')).statusCode !== 200) {
    assert.ok(Date.now() < deadline, 'not ready again within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.equal((await postSigned(testApp.app, message())).statusCode, 200)
})
