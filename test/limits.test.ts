import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { test } from 'node:test'
import { signWebhookBody } from '../src/sources/webhook/signature.js'
import { createTestApp, message, SECRET } from './helpers/test-app.js'

const TIMEOUTS = { HEADERS_TIMEOUT_MS: '300', REQUEST_TIMEOUT_MS: '600', KEEP_ALIVE_TIMEOUT_MS: '300' }

async function listening(t: Parameters<typeof createTestApp>[0]) {
  const testApp = await createTestApp(t, { env: TIMEOUTS })
  await testApp.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = testApp.app.server.address() as { port: number }
  return { ...testApp, port }
}

/**
 * Opens a socket, sends `first`, then `drip` every 100 ms until the server answers or closes
 * the connection; returns what the server answered, whether the connection ended in a reset,
 * and how long the server kept it.
 */
async function slowClient(port: number, first: string, drip: string) {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  const started = Date.now()
  let answer = ''
  let reset = false
  const dripping = setInterval(() => socket.writable && socket.write(drip), 100)
  socket.on('data', (chunk) => {
    answer += chunk
    clearInterval(dripping)
  })
  // A byte that reaches the server after it closed makes its kernel answer with a reset,
  // which can overtake the 408 it wrote last: the connection is cut off either way.
  socket.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNRESET') reset = true
  })
  socket.write(first)
  try {
    const closed = new Promise((resolve) => socket.once('close', resolve))
    const gaveUp = new Promise((resolve) => setTimeout(resolve, 10_000, 'still open').unref())
    const outcome = await Promise.race([closed, gaveUp])
    assert.notEqual(outcome, 'still open', 'the server kept a slow client for 10 s')
  } finally {
    clearInterval(dripping)
    socket.destroy()
  }
  return { answer, reset, heldMs: Date.now() - started }
}

/** The server's 408, or a reset that overtook it (see slowClient). */
function assertCutOff({ answer, reset }: { answer: string; reset: boolean }) {
  if (answer === '' && reset) return
  assert.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/)
  assert.ok(answer.endsWith('{"detail":"Request Timeout"}'), answer)
}

test('a client that sends its headers a byte at a time is cut off with 408 after HEADERS_TIMEOUT_MS', async (t) => {
  const { port } = await listening(t)
  const client = await slowClient(port, 'POST /webhook HTTP/1.1\r\nHost: x\r\n', 'X')
  assertCutOff(client)
  assert.ok(client.heldMs < 3000, `held ${client.heldMs} ms`)
})

test('a client that sends its body a byte at a time is cut off with 408 after REQUEST_TIMEOUT_MS; nothing is stored', async (t) => {
  const { port, database } = await listening(t)
  const body = JSON.stringify(message())
  const head =
    'POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
    `Content-Length: ${body.length}\r\nX-Signature: ${signWebhookBody(SECRET, Buffer.from(body))}\r\n\r\n`
  const client = await slowClient(port, head, ' ')
  assertCutOff(client)
  assert.ok(client.heldMs < 3000, `held ${client.heldMs} ms`)
  assert.deepEqual(await database.rows(), [])
})

test('an idle keep-alive connection is closed after KEEP_ALIVE_TIMEOUT_MS', async (t) => {
  const { port } = await listening(t)
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.on('error', () => {})
  let answer = ''
  socket.on('data', (chunk) => {
    answer += chunk
  })
  const started = Date.now()
  socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n')
  const closed = once(socket, 'close')
  const outcome = await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000, 'still open'))])
  socket.destroy()
  assert.notEqual(outcome, 'still open')
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/)
  assert.ok(Date.now() - started < 3000)
})
