import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { signWebhookBody } from '../src/sources/webhook/signature.js'
import { startServer, startTestServer, waitForHttp } from './helpers/server-process.js'
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
  const server = await startTestServer(t)
  const { base } = server
  assert.equal((await waitForHttp(`${base}/health/ready`)).status, 200)
  const raw = JSON.stringify({ message_id: 'p1', from: '+1', to: '+2', ts: '2025-01-01T00:00:00Z' })
  const posted = await fetch(`${base}/webhook`, {
    method: 'POST',
    body: raw,
    headers: {
      'content-type': 'application/json',
      'x-signature': signWebhookBody('testsecret', Buffer.from(raw)),
    },
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

test('start-up warns when the read endpoints are open, and not when READ_API_TOKEN protects them', async (t) => {
  const warnings = async (env: Record<string, string>) => {
    const server = await startTestServer(t, { WEBHOOK_SECRET: 'testsecret', ...env })
    await waitForHttp(`${server.base}/health/live`)
    server.child.kill('SIGTERM')
    await server.exited
    return parseAll(server.output())
      .filter((line) => line.level === 'warn')
      .map((line) => line.msg)
  }
  assert.deepEqual(await warnings({}), [
    'READ_API_TOKEN is not set: /messages and /stats answer anyone who can reach this port',
  ])
  assert.deepEqual(await warnings({ READ_API_TOKEN: 'a-token' }), [])
})

test('without WEBHOOK_SECRET the process starts, logs an error line, and is not ready', async (t) => {
  const server = await startTestServer(t, {})
  const ready = await waitForHttp(`http://127.0.0.1:${server.port}/health/ready`)
  assert.equal(ready.status, 503)
  server.child.kill('SIGTERM')
  assert.equal(await server.exited, 0)
  const lines = parseAll(server.output())
  assert.ok(lines.some((l) => l.level === 'error' && String(l.msg).includes('WEBHOOK_SECRET')))
})

// .ci/run names the machine's own Node.js here when it is older than the one the tests run on.
const OLD_NODE = process.env.INLET_TEST_OLD_NODE || undefined

test('on a Node.js older than 22 the process exits 1 with one JSON line naming both versions', {
  skip: OLD_NODE === undefined ? 'INLET_TEST_OLD_NODE is not set: no older Node.js on this machine' : false,
}, async (t) => {
  const server = await startServer({ WEBHOOK_SECRET: 'x', DATABASE_URL: 'sqlite:///unused.db' }, OLD_NODE)
  t.after(() => server.child.kill('SIGKILL'))
  assert.equal(await server.exited, 1)
  const lines = parseAll(server.output())
  assert.equal(lines.length, 1)
  const [line] = lines as [Record<string, unknown>]
  const found = String(line.node_version)
  assert.ok(Number(found.split('.')[0]) < 22, `the old Node.js is ${found}`)
  assert.equal(line.level, 'fatal')
  assert.equal(line.required, '>=22')
  assert.equal(line.msg, `Inlet needs Node.js 22 or newer (found ${found})`)
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

test('a PostgreSQL database that cannot be reached at start-up stops the process with a fatal line, password hidden', async (t) => {
  // Port 1 on the loopback: nothing listens, the connection is refused at once.
  const server = await startServer({
    WEBHOOK_SECRET: 'x',
    DATABASE_URL: 'postgres://inlet:pw@127.0.0.1:1/inlet',
  })
  t.after(() => server.child.kill('SIGKILL'))
  assert.equal(await server.exited, 1)
  const fatal = parseAll(server.output()).filter((line) => line.level === 'fatal')
  assert.equal(fatal.length, 1)
  assert.equal(fatal[0]?.msg, 'cannot open the database')
  assert.equal(fatal[0]?.database, 'postgres://inlet:***@127.0.0.1:1/inlet')
  assert.equal(JSON.stringify(server.output()).includes(':pw@'), false)
})

test('access lines reach stdout while the process runs, not only at shutdown', async (t) => {
  const server = await startTestServer(t)
  const { base } = server
  await waitForHttp(`${base}/health/live`)
  await (await fetch(`${base}/stats`)).arrayBuffer()
  const deadline = Date.now() + 5000
  while (!server.output().some((line) => line.includes('"path":"/stats"'))) {
    assert.ok(Date.now() < deadline, 'the /stats access line was not written within 5 s')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  server.child.kill('SIGTERM')
  assert.equal(await server.exited, 0)
})

test('SIGTERM during a request on a keep-alive connection answers it, then exits 0 without waiting for the client', async (t) => {
  const server = await startTestServer(t)
  await waitForHttp(`http://127.0.0.1:${server.port}/health/live`)
  const { Agent, request } = await import('node:http')
  const agent = new Agent({ keepAlive: true })
  t.after(() => agent.destroy())
  const raw = JSON.stringify({ message_id: 'in-flight', from: '+1', to: '+2', ts: '2025-01-01T00:00:00Z' })
  const answered = new Promise<number>((resolve, reject) => {
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port: server.port,
        method: 'POST',
        path: '/webhook',
        headers: {
          'content-length': Buffer.byteLength(raw),
          'x-signature': signWebhookBody('testsecret', Buffer.from(raw)),
        },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    // Half the body now, SIGTERM, then the rest: the request is in flight during shutdown.
    req.write(raw.slice(0, 10))
    setTimeout(() => {
      server.child.kill('SIGTERM')
      setTimeout(() => req.end(raw.slice(10)), 200)
    }, 100)
  })
  assert.equal(await answered, 200)
  const started = Date.now()
  assert.equal(await server.exited, 0)
  assert.ok(Date.now() - started < 5000, 'exited well before the 10 s shutdown deadline')
})

test('SIGTERM under load: the process exits 0 in time, logs are flushed, and every acknowledged message is stored', async (t) => {
  let server: Awaited<ReturnType<typeof startServer>> | undefined
  const dir = tempDir(t, async () => {
    server?.child.kill('SIGKILL')
    await server?.exited
  })
  const file = path.join(dir, 'app.db')
  server = await startServer({ WEBHOOK_SECRET: 'testsecret', DATABASE_URL: `sqlite:///${file}` })
  const base = `http://127.0.0.1:${server.port}`
  await waitForHttp(`${base}/health/live`)
  const acknowledged: string[] = []
  let stop = false
  let next = 0
  const sender = async () => {
    while (!stop) {
      const raw = JSON.stringify({
        message_id: `load-${next++}`,
        from: '+1',
        to: '+2',
        ts: '2025-01-01T00:00:00Z',
      })
      try {
        const response = await fetch(`${base}/webhook`, {
          method: 'POST',
          body: raw,
          headers: { 'x-signature': signWebhookBody('testsecret', Buffer.from(raw)) },
        })
        await response.arrayBuffer()
        if (response.status === 200) acknowledged.push(JSON.parse(raw).message_id)
      } catch {
        return // the server stopped accepting
      }
    }
  }
  const senders = Array.from({ length: 32 }, sender)
  await new Promise((resolve) => setTimeout(resolve, 500))
  const killedAt = Date.now()
  server.child.kill('SIGTERM')
  assert.equal(await server.exited, 0)
  assert.ok(Date.now() - killedAt < 10_000, 'exited before the shutdown deadline')
  stop = true
  await Promise.all(senders)
  assert.ok(acknowledged.length > 50, `only ${acknowledged.length} acknowledged under load`)
  const lines = parseAll(server.output())
  const messages = lines.map((l) => l.msg)
  // In-flight requests finish (and log) after 'shutting down'; 'stopped' is the last line.
  assert.equal(messages.at(-1), 'stopped')
  assert.ok(messages.indexOf('shutting down') >= 0)
  // Every 200 had a line before the process ended: the log was flushed, not cut.
  const answered = lines.filter((l) => l.msg === 'request completed' && l.status === 200).length
  assert.ok(
    answered >= acknowledged.length,
    `${answered} access lines for ${acknowledged.length} acknowledgements`,
  )
  const db = new Database(file, { readonly: true })
  t.after(() => db.close())
  const stored = new Set(db.prepare('SELECT message_id FROM messages').pluck().all() as string[])
  for (const id of acknowledged) assert.ok(stored.has(id), `acknowledged ${id} is stored`)
})
