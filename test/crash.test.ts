import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runCrashCycles } from './crash/crash-harness.js'
import { FORWARD_SECRET, startReceiver } from './helpers/receiver.js'

// The bounded version; `npm run test:crash` runs the long one.
test('every 200 from POST /webhook survives SIGKILL and restart (3 crash cycles)', {
  timeout: 60_000,
}, async (t) => {
  const result = await runCrashCycles({ cycles: 3, concurrency: 32, log: (line) => t.diagnostic(line) })
  assert.equal(result.cycles, 3)
  assert.ok(result.acknowledged > 0, 'no message was acknowledged, so nothing was proven')
  assert.ok(result.checked >= result.acknowledged)
})

test('every 200 from POST /webhooks/whatsapp means its whole batch survives SIGKILL, and no batch is stored in part (3 cycles)', {
  timeout: 90_000,
}, async (t) => {
  const result = await runCrashCycles({
    cycles: 3,
    concurrency: 16,
    traffic: 'whatsapp',
    log: (line) => t.diagnostic(line),
  })
  assert.equal(result.cycles, 3)
  assert.ok(result.acknowledged > 0, 'no batch was acknowledged, so nothing was proven')
})

test('with forwarding on and a receiver attached, every 200 still survives SIGKILL (3 cycles)', {
  timeout: 90_000,
}, async (t) => {
  const receiver = await startReceiver(t)
  const result = await runCrashCycles({
    cycles: 3,
    concurrency: 32,
    env: { FORWARD_URL: receiver.url, FORWARD_SECRET },
    log: (line) => t.diagnostic(line),
  })
  assert.equal(result.cycles, 3)
  assert.ok(result.acknowledged > 0, 'no message was acknowledged, so nothing was proven')
  assert.ok(receiver.received.length > 0, 'the receiver was sent events meanwhile')
})
