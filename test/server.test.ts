import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { signBody } from '../src/signature/verify-signature.js'
import { startServer, waitForHttp } from './helpers/server-process.js'
import { tempDir } from './helpers/test-app.js'

function parseAll(lines: string[]): Record<string, unknown>[] {
  return lines.map((line) => {
    let parsed: Record<string, unknown> = {}
    assert.doesNotThrow(() => {
      parsed = JSON.parse(line)
    }, `not a JSON line: ${line}`)
    return parsed
  })
}

test('the process serves, writes only JSON lines, and exits 0 on SIGTERM after a graceful close', async (t) => {
  const dir = tempDir(t)
  const server = await startServer({
    WEBHOOK_SECRET: 'testsecret',
    DATABASE_URL: `sqlite:///${path.join(dir, 'app.db')}`,
  })
  t.after(() => server.child.kill('SIGKILL'))
  const base = `http://127.0.0.1:${server.port}`
  assert.equal((await waitForHttp(`${base}/health/ready`)).status, 200)
  const raw = JSON.stringify({ message_id: 'p1', from: '+1', to: '+2', ts: '2025-01-01T00:00:00Z' })
  const posted = await fetch(`${base}/webhook`, {
    method: 'POST',
    body: raw,
    headers: { 'content-type': 'application/json', 'x-signature': signBody('testsecret', Buffer.from(raw)) },
  })
  assert.equal(posted.status, 200)
  assert.equal(((await (await fetch(`${base}/messages`)).json()) as { total: number }).total, 1)

  server.child.kill('SIGTERM')
  assert.equal(await server.exited, 0)
  const lines = parseAll(server.output())
  for (const line of lines) {
    assert.equal(typeof line.level, 'string')
    assert.match(line.ts as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
  }
  const messages = lines.map((l) => l.msg)
  assert.ok(messages.some((m) => String(m).startsWith('Server listening')))
  assert.equal(lines.filter((l) => l.msg === 'request completed').length, 3)
  assert.deepEqual(messages.slice(-2), ['shutting down', 'stopped'])
  assert.equal(JSON.stringify(lines).includes('testsecret'), false)
})

test('without WEBHOOK_SECRET the process starts, logs an error line, and is not ready', async (t) => {
  const dir = tempDir(t)
  const server = await startServer({ DATABASE_URL: `sqlite:///${path.join(dir, 'app.db')}` })
  t.after(() => server.child.kill('SIGKILL'))
  const ready = await waitForHttp(`http://127.0.0.1:${server.port}/health/ready`)
  assert.equal(ready.status, 503)
  server.child.kill('SIGTERM')
  assert.equal(await server.exited, 0)
  const lines = parseAll(server.output())
  assert.ok(lines.some((l) => l.level === 'error' && String(l.msg).includes('WEBHOOK_SECRET')))
})

test('an invalid configuration refuses start-up with one JSON line naming the variables', async (t) => {
  const server = await startServer({
    WEBHOOK_SECRET: 'x',
    DATABASE_URL: 'mysql://u:pw@h/db',
    LOG_LEVEL: 'LOUD',
  })
  t.after(() => server.child.kill('SIGKILL'))
  assert.equal(await server.exited, 1)
  const lines = parseAll(server.output())
  assert.equal(lines.length, 1)
  assert.equal(lines[0]?.level, 'fatal')
  assert.match(String(lines[0]?.msg), /DATABASE_URL.*LOG_LEVEL|LOG_LEVEL.*DATABASE_URL/)
  assert.equal(JSON.stringify(lines).includes(':pw@'), false)
})
