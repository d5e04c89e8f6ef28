import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Worker } from 'node:worker_threads'
import { loadConfig } from '../src/config.js'
import { StorageUnavailableError } from '../src/errors.js'
import { ForwarderHost } from '../src/forwarding/forwarder-host.js'
import { createLogger } from '../src/observability/logger.js'
import { createMetrics } from '../src/observability/metrics.js'
import type { NewMessage } from '../src/storage/message-store.js'
import { FORWARD_SECRET, startReceiver } from './helpers/receiver.js'
import { message } from './helpers/test-app.js'
import { tempSqliteStore } from './helpers/test-database.js'

// The forwarder thread ending by itself (a crash in it, an out-of-memory end): the main
// thread starts it again, and nothing waits forever meanwhile.

test('a forwarder thread that ends is started again, and a retry it never answered fails instead of hanging', async (t) => {
  const receiver = await startReceiver(t)
  const { store, file } = await tempSqliteStore(t)
  const config = loadConfig({
    DATABASE_URL: `sqlite:///${file}`,
    FORWARD_URL: receiver.url,
    FORWARD_SECRET,
    FORWARD_RETRY_SCHEDULE: '0',
  })
  const lines: Record<string, unknown>[] = []
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) })
  const host = new ForwarderHost({
    store,
    config,
    forward: config.forward as NonNullable<typeof config.forward>,
    logger,
    metrics: createMetrics().forward,
  })
  await host.start()
  t.after(() => host.stop())
  const thread = () => (host as unknown as { worker: Worker | undefined }).worker

  await store.insert(message({ message_id: 'before' }) as unknown as NewMessage)
  await receiver.until((received) => received.length === 1)

  // A retry in flight when the thread ends: it must settle.
  const first = thread() as Worker
  const retry = host.retry(1)
  await first.terminate()
  await assert.rejects(retry, StorageUnavailableError)
  assert.ok(
    lines.some((line) => line.msg === 'forwarder thread stopped; starting it again'),
    'the end is logged',
  )

  // Started again: the next event is delivered by the new thread.
  for (let i = 0; thread() === undefined || thread() === first; i++) {
    assert.ok(i < 200, 'a new forwarder thread within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await store.insert(message({ message_id: 'after' }) as unknown as NewMessage)
  await receiver.until((received) => received.length === 2)
  assert.deepEqual(
    receiver.received.map((r) => (JSON.parse(r.body) as { data: { message_id: string } }).data.message_id),
    ['before', 'after'],
  )
})
