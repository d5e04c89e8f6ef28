import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { signWebhookBody } from '../src/sources/webhook/signature.js'
import { FORWARD_SECRET, startReceiver } from './helpers/receiver.js'
import { type ServerProcess, startServer, waitForHttp } from './helpers/server-process.js'
import { message, SECRET, tempDir } from './helpers/test-app.js'

// At least once across a crash: deliveries pending when Inlet is SIGKILLed are made after
// it restarts, none lost (a real process on a real SQLite file).

test('deliveries pending at a SIGKILL are all delivered after the restart', {
  timeout: 120_000,
}, async (t) => {
  let healthy = false
  const receiver = await startReceiver(t, () => ({ status: healthy ? 200 : 503 }))
  let server: ServerProcess | undefined
  const dir = tempDir(t, async () => {
    server?.child.kill('SIGKILL')
    await server?.exited
  })
  const env = {
    WEBHOOK_SECRET: SECRET,
    DATABASE_URL: `sqlite:///${path.join(dir, 'app.db')}`,
    FORWARD_URL: receiver.url,
    FORWARD_SECRET,
    FORWARD_TIMEOUT_MS: '1000',
    FORWARD_RETRY_SCHEDULE: Array.from({ length: 100 }, () => '1').join(','),
    LOG_LEVEL: 'WARNING',
  }
  server = await startServer(env)
  const base = () => `http://127.0.0.1:${server?.port}`
  assert.equal((await waitForHttp(`${base()}/health/ready`)).status, 200)
  const ids: string[] = []
  for (let i = 0; i < 30; i++) {
    const body = JSON.stringify(message())
    const response = await fetch(`${base()}/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-signature': signWebhookBody(SECRET, Buffer.from(body)),
      },
      body,
    })
    assert.equal(response.status, 200)
    ids.push(JSON.parse(body).message_id)
  }
  await receiver.until((r) => r.length >= 30) // attempts made and refused: deliveries are pending
  server.child.kill('SIGKILL')
  await server.exited

  healthy = true
  const refusedBefore = receiver.received.length
  server = await startServer(env)
  await receiver.until(
    (r) =>
      new Set(
        r
          .slice(refusedBefore)
          .map((x) => (JSON.parse(x.body) as { data: { message_id: string } }).data.message_id),
      ).size === ids.length,
    60_000,
  )
  const delivered = new Set(
    receiver.received
      .slice(refusedBefore)
      .map((x) => (JSON.parse(x.body) as { data: { message_id: string } }).data.message_id),
  )
  assert.deepEqual(delivered, new Set(ids))
  const pending = (await (await fetch(`${base()}/deliveries?status=pending`)).json()) as { data: unknown[] }
  for (let i = 0; i < 50 && pending.data.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    pending.data = (
      (await (await fetch(`${base()}/deliveries?status=pending`)).json()) as { data: unknown[] }
    ).data
  }
  assert.deepEqual(pending.data, [])
})
