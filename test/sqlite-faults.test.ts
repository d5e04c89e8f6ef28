import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { SqliteMessageStore } from '../src/storage/sqlite/sqlite-store.js'
import { FORWARD_SECRET, startReceiver } from './helpers/receiver.js'
import { createTestApp, message, postSigned } from './helpers/test-app.js'

for (const forwarding of [false, true]) {
  test(`a full database answers 503 storage unavailable (never 200 or 500), readiness follows, and both recover when space returns${forwarding ? ' (forwarding on)' : ''}`, async (t) => {
    const receiver = forwarding ? await startReceiver(t) : undefined
    const env: Record<string, string> = receiver ? { FORWARD_URL: receiver.url, FORWARD_SECRET } : {}
    await fullDatabase(t, env)
  })
}

async function fullDatabase(t: Parameters<typeof createTestApp>[0], env: Record<string, string>) {
  const testApp = await createTestApp(t, { env })
  const { app, database } = testApp
  const get = (url: string) => app.inject({ method: 'GET', url })
  const acknowledged: string[] = []
  const send = async () => {
    const body = message({ text: 'x'.repeat(4000), from: '+919876543210' })
    const response = await postSigned(app, body)
    assert.ok([200, 503].includes(response.statusCode), `status ${response.statusCode}`)
    if (response.statusCode === 200) acknowledged.push(body.message_id as string)
    else assert.deepEqual(response.json(), { detail: 'storage unavailable' })
    return response.statusCode
  }
  for (let i = 0; i < 5; i++) assert.equal(await send(), 200)

  // Fault injection on the store's own connection: the database may not grow any more,
  // exactly what SQLite reports when the disk is full (SQLITE_FULL).
  const { faults } = testApp.store as SqliteMessageStore
  const [{ page_count: pages }] = (await faults.writerPragma('page_count')) as [{ page_count: number }]
  await faults.writerPragma(`max_page_count = ${pages}`)
  let refused = 0
  for (let i = 0; i < 200 && refused < 3; i++) if ((await send()) === 503) refused += 1
  assert.equal(refused, 3, 'writes are refused once the database cannot grow')
  const ready = await get('/health/ready')
  assert.equal(ready.statusCode, 503)
  assert.deepEqual(ready.json().checks, { database: false, schema: true, webhook_secret: true })
  // Reads still work, searches and the sender filter included, though the rows written
  // just before the cap cannot be added to their indexes: they are read from the table.
  const total = acknowledged.length
  assert.equal((await get('/messages')).json().total, total)
  assert.equal((await get('/messages?q=XXXX')).json().total, total)
  assert.equal((await get('/messages?from=%2B919876543210&limit=1')).json().total, total)

  // Space returns: the next readiness probe writes for real, and succeeds.
  await faults.writerPragma('max_page_count = 1073741823')
  assert.equal((await get('/health/ready')).statusCode, 200)
  assert.equal(await send(), 200)

  const stored = new Set((await database.rows()).map((row) => row.message_id))
  for (const id of acknowledged) assert.ok(stored.has(id), `acknowledged ${id} is stored`)
  assert.equal(stored.size, acknowledged.length, 'nothing refused was stored')
}
