import assert from 'node:assert/strict'
import { once } from 'node:events'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage } from 'node:http'
import path from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { queryOnce } from '../bench/lib/postgres.js'
import { signWebhookBody } from '../src/sources/webhook/signature.js'
import { reports, runCli, spawnCli } from './helpers/cli.js'
import { checkExact, storedMessages } from './helpers/exact-answers.js'
import { freePort, startServer, startTestServer, waitForHttp } from './helpers/server-process.js'
import { message, SECRET, tempDir } from './helpers/test-app.js'
import { freshSchema, POSTGRES_SKIP_REASON } from './helpers/test-database.js'
import { APP_SECRET, envelope, textItem } from './helpers/whatsapp.js'

type Json = Record<string, unknown>

const COMMANDS = ['serve', 'sign', 'send', 'tail', 'export', 'import', 'stats', 'backup', 'vacuum']

/** The real server on a fresh SQLite file, ready to answer. */
async function readyServer(t: Parameters<typeof startTestServer>[0], env: Record<string, string> = {}) {
  const server = await startTestServer(t, { WEBHOOK_SECRET: SECRET, ...env })
  await waitForHttp(`${server.base}/health/ready`)
  return server
}

function post(base: string, raw: string | Buffer) {
  const body = Buffer.from(raw)
  return fetch(`${base}/webhook`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'x-signature': signWebhookBody(SECRET, body) },
  })
}

/**
 * Clients posting webhooks one after another until stopped (a refused connection stops
 * them too): what each was answered, and the ids answered 200.
 */
function keepPosting(
  base: string,
  clients: number,
  body: (n: number) => Json = (n) => message({ message_id: `load-${n}` }),
) {
  let posting = true
  let next = 0
  const acknowledged: string[] = []
  const statuses: number[] = []
  const loop = async () => {
    while (posting) {
      next += 1
      const sent = body(next)
      const response = await post(base, JSON.stringify(sent)).catch(() => null)
      if (response === null) return
      statuses.push(response.status)
      if (response.status === 200) acknowledged.push(sent.message_id as string)
    }
  }
  const loops = Array.from({ length: clients }, loop)
  return {
    acknowledged,
    statuses,
    stop: async () => {
      posting = false
      await Promise.all(loops)
    },
  }
}

const ndjson = (...lines: (Json | string)[]) =>
  `${lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n')}\n`

async function allMessages(base: string, headers: Record<string, string> = {}): Promise<Json[]> {
  const page = (await (await fetch(`${base}/messages?limit=100`, { headers })).json()) as { data: Json[] }
  return page.data
}

test('inlet, inlet --help and every command --help print their usage and exit 0', async () => {
  const overview = await runCli(['--help'])
  assert.equal(overview.code, 0)
  assert.match(overview.stdout, /^Usage: inlet <command>/)
  for (const name of COMMANDS) assert.match(overview.stdout, new RegExp(`^  ${name} `, 'm'))
  assert.equal((await runCli([])).stdout, overview.stdout)

  const helps = await Promise.all(COMMANDS.map((name) => runCli([name, '--help'])))
  helps.forEach((help, index) => {
    assert.equal(help.code, 0, COMMANDS[index])
    assert.ok(help.stdout.startsWith(`Usage: inlet ${COMMANDS[index]}`), help.stdout)
    assert.equal(help.stderr, '')
  })
  assert.equal((await runCli(['send', '-h'])).stdout, helps[2]?.stdout)
})

test('an unknown command, an unknown flag or a missing value is one stderr line and exit 1', async () => {
  const port = await freePort()
  const results = await Promise.all([
    runCli(['frobnicate']),
    runCli(['send', '--bogus']),
    runCli(['tail', '--count']),
    runCli(['send', '--concurrency', 'many', '--secret', 's']),
    runCli(['stats', '--url', `http://127.0.0.1:${port}`]),
  ])
  assert.deepEqual(
    results.map(({ code, stdout, stderr }) => ({ code, stdout, stderr })),
    [
      {
        code: 1,
        stdout: '',
        stderr: 'inlet: unknown command "frobnicate" (inlet --help lists the commands)\n',
      },
      { code: 1, stdout: '', stderr: 'inlet send: unknown option --bogus (see inlet send --help)\n' },
      { code: 1, stdout: '', stderr: 'inlet tail: option --count needs a value (see inlet tail --help)\n' },
      {
        code: 1,
        stdout: '',
        stderr: 'inlet send: --concurrency must be an integer from 1 to 256 (got "many")\n',
      },
      { code: 1, stdout: '', stderr: `inlet stats: cannot reach http://127.0.0.1:${port} (ECONNREFUSED)\n` },
    ],
  )
})

test('serve runs the service as npm start does, and SIGTERM stops it with exit 0', async (t) => {
  const dir = tempDir(t)
  const port = await freePort()
  const serve = spawnCli(['serve'], {
    env: {
      WEBHOOK_SECRET: SECRET,
      DATABASE_URL: `sqlite:///${path.join(dir, 'app.db')}`,
      HOST: '127.0.0.1',
      PORT: String(port),
    },
  })
  t.after(() => serve.child.kill('SIGKILL'))
  assert.equal((await waitForHttp(`http://127.0.0.1:${port}/health/ready`)).status, 200)
  serve.child.kill('SIGTERM')
  const { code, stdout } = await serve.result
  assert.equal(code, 0)
  const lines = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Json)
  assert.deepEqual(
    lines.slice(-2).map((line) => line.msg),
    ['shutting down', 'stopped'],
  )
})

test('sign prints the X-Signature the server accepts, from a file or stdin, and sha256= for WhatsApp', async (t) => {
  const server = await readyServer(t, { WHATSAPP_APP_SECRET: APP_SECRET, WHATSAPP_VERIFY_TOKEN: 'v' })
  const dir = tempDir(t)
  // Bytes a re-serialization would change: spacing, an escape, non-ASCII, no final newline.
  const raw = Buffer.from(
    '{ "message_id":"s1", "from":"+15550001", "to":"+15550002", "ts":"2025-01-15T10:00:00Z", "text":"\\u00e9 é" }',
  )
  const file = path.join(dir, 'body.json')
  writeFileSync(file, raw)
  const env = { WEBHOOK_SECRET: SECRET }

  const fromFile = await runCli(['sign', file], { env })
  assert.deepEqual(fromFile, { code: 0, stdout: `${signWebhookBody(SECRET, raw)}\n`, stderr: '' })
  const signature = fromFile.stdout.trim()
  assert.match(signature, /^[0-9a-f]{64}$/)
  assert.deepEqual(await runCli(['sign'], { env, stdin: raw }), fromFile)
  assert.deepEqual(await runCli(['sign', '--secret', SECRET, '-'], { stdin: raw }), fromFile)

  const accepted = await fetch(`${server.base}/webhook`, {
    method: 'POST',
    body: raw,
    headers: { 'content-type': 'application/json', 'x-signature': signature },
  })
  assert.equal(accepted.status, 200)
  assert.equal((await allMessages(server.base))[0]?.text, 'é é')

  const whatsappBody = Buffer.from(JSON.stringify(envelope({ messages: [textItem()] })))
  const whatsapp = await runCli(['sign', '--whatsapp'], {
    env: { WHATSAPP_APP_SECRET: APP_SECRET },
    stdin: whatsappBody,
  })
  assert.equal(whatsapp.code, 0)
  assert.match(whatsapp.stdout, /^sha256=[0-9a-f]{64}\n$/)
  const meta = await fetch(`${server.base}/webhooks/whatsapp`, {
    method: 'POST',
    body: whatsappBody,
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': whatsapp.stdout.trim() },
  })
  assert.equal(meta.status, 200)

  assert.deepEqual(await runCli(['sign', file]), {
    code: 1,
    stdout: '',
    stderr: 'inlet sign: no secret: pass --secret or set WEBHOOK_SECRET\n',
  })
  assert.deepEqual(await runCli(['sign', '--whatsapp', file], { env }), {
    code: 1,
    stdout: '',
    stderr: 'inlet sign: no secret: pass --app-secret or set WHATSAPP_APP_SECRET\n',
  })
  assert.deepEqual(await runCli(['sign', path.join(dir, 'missing.json')], { env }), {
    code: 1,
    stdout: '',
    stderr: `inlet sign: ${path.join(dir, 'missing.json')}: no such file or directory\n`,
  })
})

test('send posts each NDJSON line signed, counts created/duplicate/failed and names the failed lines', async (t) => {
  const server = await readyServer(t)
  const dir = tempDir(t)
  const stored = message({ message_id: 'send-stored', text: 'first write' })
  assert.equal((await post(server.base, JSON.stringify(stored))).status, 200)

  const fresh = [1, 2, 3, 4, 5].map((n) =>
    message({ message_id: `send-${n}`, ts: `2025-01-15T10:00:0${n}Z`, text: `hello ${n}` }),
  )
  const file = path.join(dir, 'messages.ndjson')
  writeFileSync(
    file,
    ndjson(
      fresh[0] as Json,
      fresh[1] as Json,
      '',
      fresh[0] as Json, // line 4: the same message twice in the file
      'this is not JSON', // line 5
      { ...stored, text: 'second write' }, // line 6: stored already
      fresh[2] as Json,
      { ...message({ message_id: 'send-bad' }), from: '12345' }, // line 8
      fresh[3] as Json,
      fresh[4] as Json,
    ),
  )
  const result = await runCli(['send', file], {
    env: { INLET_URL: server.base, WEBHOOK_SECRET: SECRET },
  })
  assert.equal(result.code, 1)
  assert.equal(result.stdout, 'created 5, duplicate 2, failed 2\n')
  assert.deepEqual(reports(result.stderr, 'send').sort(), [
    'inlet send: 2 of 9 lines failed',
    'inlet send: line 5: not JSON',
    "inlet send: line 8: 422 from: String should match pattern '^\\+[0-9]{1,15}$'",
  ])

  const rows = await allMessages(server.base)
  assert.deepEqual(
    rows.map((row) => [row.message_id, row.text]),
    [['send-stored', 'first write'], ...fresh.map((m) => [m.message_id, m.text])],
  )

  const one = await runCli([
    'send',
    '--url',
    server.base,
    '--secret',
    SECRET,
    '--message',
    JSON.stringify(stored),
  ])
  assert.deepEqual(one, { code: 0, stdout: 'created 0, duplicate 1, failed 0\n', stderr: '' })

  const wrongKey = await runCli(['send', '--url', server.base, '--secret', 'wrong', file])
  assert.equal(wrongKey.code, 1)
  assert.equal(wrongKey.stdout.split('\n')[0]?.startsWith('created 0, duplicate 0, failed '), true)
  assert.equal(
    reports(wrongKey.stderr, 'send').at(-1),
    'inlet send: 401 invalid signature (check --secret or WEBHOOK_SECRET)',
  )
})

test('send retries a 5xx with backoff and counts the final answer; a 4xx is not retried', async (t) => {
  const seen: { body: string; signature: string | undefined }[] = []
  let answers = ['503', '503', 'created']
  const upstream = createServer(async (request: IncomingMessage, response) => {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    seen.push({ body: Buffer.concat(chunks).toString(), signature: request.headers['x-signature'] as string })
    const answer = answers.shift() ?? '400'
    if (answer === '503') {
      response.writeHead(503, { 'content-type': 'application/json' }).end('{"detail":"storage unavailable"}')
    } else if (answer === '400') {
      response.writeHead(400, { 'content-type': 'application/json' }).end('{"detail":"bad request"}')
    } else {
      response.writeHead(200, { 'content-type': 'application/json', 'x-inlet-result': answer })
      response.end('{"status":"ok"}')
    }
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  t.after(() => upstream.close())
  const url = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`
  const body = JSON.stringify(message({ message_id: 'retry-1' }))

  const retried = await runCli(['send', '--url', url, '--secret', 'k', '--message', body])
  assert.deepEqual(retried, { code: 0, stdout: 'created 1, duplicate 0, failed 0\n', stderr: '' })
  assert.equal(seen.length, 3)
  for (const request of seen)
    assert.deepEqual(request, { body, signature: signWebhookBody('k', Buffer.from(body)) })

  seen.length = 0
  answers = ['400']
  const refused = await runCli(['send', '--url', url, '--secret', 'k', '--message', body])
  assert.deepEqual(refused, {
    code: 1,
    stdout: 'created 0, duplicate 0, failed 1\n',
    stderr: 'inlet send: line 1: 400 bad request\ninlet send: 1 of 1 lines failed\n',
  })
  assert.equal(seen.length, 1)
})

/** Connected once the server counts it as a stream client (or it exited): send after that. */
async function streamClients(base: string, count: number, tail: ReturnType<typeof spawnCli>) {
  for (;;) {
    const metrics = await (await fetch(`${base}/metrics`)).text()
    if (new RegExp(`^events_stream_clients ${count}$`, 'm').test(metrics) || tail.child.exitCode !== null)
      return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

test('tail prints each new event on one line while connected, and --json the event as sent', async (t) => {
  const server = await readyServer(t)
  const env = { INLET_URL: server.base }
  const tail = spawnCli(['tail', '--count', '1'], { env })
  await streamClients(server.base, 1, tail)
  const first = message({ message_id: 'tail-1', from: '+15550001', to: '+15550002', text: 'two\nlines' })
  assert.equal((await post(server.base, JSON.stringify(first))).status, 200)
  const events = (await (await fetch(`${server.base}/events`)).json()) as { data: { id: string }[] }
  const firstId = events.data[0]?.id
  assert.deepEqual(await tail.result, {
    code: 0,
    stdout: `${firstId} message.created 2025-01-15T10:00:00Z +15550001 → +15550002: two\\nlines\n`,
    stderr: '',
  })

  const second = message({ message_id: 'tail-2', text: null })
  assert.equal((await post(server.base, JSON.stringify(second))).status, 200)
  const json = await runCli(['tail', '--json', '--after', String(firstId), '--count', '1'], { env })
  assert.equal(json.code, 0)
  const event = JSON.parse(json.stdout) as { id: string; type: string; data: Json }
  assert.equal(event.type, 'message.created')
  assert.equal(event.data.message_id, 'tail-2')
  assert.equal(event.data.text, null)
  assert.equal(json.stdout.split('\n').length, 2)

  // By default it starts at the feed's end: the two stored messages are not printed.
  const fromEnd = spawnCli(['tail', '--count', '1'], { env })
  await streamClients(server.base, 1, fromEnd)
  const third = message({ message_id: 'tail-3', text: 'only this' })
  assert.equal((await post(server.base, JSON.stringify(third))).status, 200)
  const ended = await fromEnd.result
  assert.equal(ended.code, 0)
  assert.match(ended.stdout, /^\d+ message\.created \S+ \+919876543210 → \+14155550100: only this\n$/)

  const sigint = spawnCli(['tail', '--from-start'], { env })
  while (sigint.stdout().split('\n').length < 3 && sigint.child.exitCode === null) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  sigint.child.kill('SIGINT')
  const stopped = await sigint.result
  assert.equal(stopped.code, 0)
  assert.equal(
    stopped.stdout.split('\n')[1],
    `${event.id} message.created 2025-01-15T10:00:00Z +919876543210 → +14155550100`,
  )
})

test('tail without the read token exits 1 with one line', async (t) => {
  const server = await readyServer(t, { READ_API_TOKEN: 'reader' })
  assert.deepEqual(await runCli(['tail', '--url', server.base]), {
    code: 1,
    stdout: '',
    stderr: 'inlet tail: 401 unauthorized (pass --token or set READ_API_TOKEN)\n',
  })
})

test('export --out writes exactly what GET /export sends, through a .partial file', async (t) => {
  const server = await readyServer(t)
  const dir = tempDir(t)
  for (const n of [3, 1, 2]) {
    const body = message({
      message_id: `export-${n}`,
      ts: `2025-01-15T10:00:0${n}Z`,
      text: `row ${n}, "quoted"`,
    })
    assert.equal((await post(server.base, JSON.stringify(body))).status, 200)
  }
  const expected = await (await fetch(`${server.base}/export?format=ndjson`)).text()
  const items = await allMessages(server.base)
  assert.equal(expected, items.map((item) => `${JSON.stringify(item)}\n`).join(''))

  const out = path.join(dir, 'messages.ndjson')
  const result = await runCli(['export', '--url', server.base, '--out', out])
  assert.deepEqual(result, {
    code: 0,
    stdout: `exported 3 lines, ${Buffer.byteLength(expected)} bytes → ${out}\n`,
    stderr: '',
  })
  assert.equal(readFileSync(out, 'utf8'), expected)
  assert.equal(existsSync(`${out}.partial`), false)

  const csv = await runCli(['export', '--url', server.base, '--format', 'csv', '--from', '+919876543210'])
  assert.equal(csv.code, 0)
  assert.equal(
    csv.stdout,
    await (await fetch(`${server.base}/export?format=csv&from=%2B919876543210`)).text(),
  )
  assert.ok(csv.stdout.startsWith('message_id,from,to,ts,text\r\n'), 'RFC 4180 line ends')
})

test('import loads NDJSON into a fresh SQLite database exactly once by message_id', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'export.ndjson')
  const rows = [
    { message_id: 'imp-1', from: '+15550001', to: '+15550002', ts: '2025-01-15T10:00:00Z', text: 'one' },
    { message_id: 'imp-2', from: '+15550001', to: '+15550002', ts: '2025-01-15T10:00:01.5Z', text: null },
    { message_id: 'imp-3', from: '+15550003', to: '+15550002', ts: '2025-01-15T10:00:02Z' },
  ]
  writeFileSync(file, ndjson(...rows))
  const database = `sqlite:///${path.join(dir, 'imported.db')}`

  const first = await runCli(['import', '--database', database, file])
  assert.deepEqual(first, { code: 0, stdout: 'created 3, duplicate 0, failed 0\n', stderr: '' })
  const again = await runCli(['import', file], { env: { DATABASE_URL: database }, stdin: '' })
  assert.deepEqual(again, { code: 0, stdout: 'created 0, duplicate 3, failed 0\n', stderr: '' })

  const mixed = ndjson(
    { ...rows[0], text: 'changed' },
    '{"message_id":',
    { ...rows[0], message_id: 'imp-4', ts: '2025-02-30T00:00:00Z' },
    { ...rows[0], message_id: 'imp-5' },
  )
  const third = await runCli(['import', '--database', database], { stdin: mixed })
  assert.equal(third.code, 1)
  assert.equal(third.stdout, 'created 1, duplicate 1, failed 2\n')
  assert.deepEqual(reports(third.stderr, 'import'), [
    'inlet import: line 2: not JSON',
    'inlet import: line 3: ts: Input should be a UTC timestamp YYYY-MM-DDTHH:MM:SS[.fraction]Z on a real calendar date',
    'inlet import: 2 of 4 lines failed',
  ])

  const db = new Database(path.join(dir, 'imported.db'), { readonly: true })
  t.after(() => db.close())
  assert.deepEqual(
    db.prepare('SELECT message_id, from_msisdn, to_msisdn, ts, text FROM messages ORDER BY message_id').all(),
    [
      ...rows.map((row) => ({
        message_id: row.message_id,
        from_msisdn: row.from,
        to_msisdn: row.to,
        ts: row.ts,
        text: row.text ?? null,
      })),
      {
        message_id: 'imp-5',
        from_msisdn: '+15550001',
        to_msisdn: '+15550002',
        ts: '2025-01-15T10:00:00Z',
        text: 'one',
      },
    ],
  )
})

test('stats prints GET /stats readably, and --json as received, with the read token from the environment', async (t) => {
  const server = await readyServer(t, { READ_API_TOKEN: 'reader' })
  for (const [id, from] of [
    ['st-1', '+15550001'],
    ['st-2', '+15550001'],
    ['st-3', '+4915550002'],
  ] as const) {
    assert.equal((await post(server.base, JSON.stringify(message({ message_id: id, from })))).status, 200)
  }
  const env = { INLET_URL: server.base, READ_API_TOKEN: 'reader' }
  const body = await (
    await fetch(`${server.base}/stats`, { headers: { authorization: 'Bearer reader' } })
  ).text()
  assert.deepEqual(await runCli(['stats', '--json'], { env }), { code: 0, stdout: `${body}\n`, stderr: '' })
  assert.deepEqual(await runCli(['stats'], { env }), {
    code: 0,
    stdout: [
      'messages  3',
      'senders   2',
      'first     2025-01-15T10:00:00Z',
      'last      2025-01-15T10:00:00Z',
      '',
      'top senders  messages',
      '+15550001           2',
      '+4915550002         1',
      '',
    ].join('\n'),
    stderr: '',
  })
  assert.deepEqual(await runCli(['stats', '--url', server.base, '--token', 'wrong']), {
    code: 1,
    stdout: '',
    stderr: 'inlet stats: 401 unauthorized (check --token / READ_API_TOKEN)\n',
  })
})

test('backup copies a live SQLite database under write load: intact, with every write acknowledged before it', async (t) => {
  const { base, file, url } = await readyServer(t)
  const load = keepPosting(base, 3)
  while (load.acknowledged.length < 200) await new Promise((resolve) => setTimeout(resolve, 20))

  const before = [...load.acknowledged]
  const out = path.join(path.dirname(file), 'copy.db')
  const result = await runCli(['backup', '--database', url, '--out', out])
  const duringBackup = load.acknowledged.length - before.length
  await load.stop()

  assert.equal(result.code, 0, result.stderr)
  const summary = /^backup: (\d+) messages, (\d+) bytes → (.+)\n$/.exec(result.stdout)
  assert.ok(summary, result.stdout)
  assert.equal(summary[3], out)
  assert.equal(Number(summary[2]), statSync(out).size)
  assert.equal(existsSync(`${out}.partial`), false)
  assert.ok(duringBackup >= 0)

  const copy = new Database(out, { readonly: true })
  t.after(() => copy.close())
  assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok')
  const ids = new Set(copy.prepare('SELECT message_id FROM messages').pluck().all() as string[])
  assert.equal(Number(summary[1]), ids.size)
  assert.deepEqual(
    before.filter((id) => !ids.has(id)),
    [],
  )

  assert.deepEqual(await runCli(['backup', '--database', url, '--out', out]), {
    code: 1,
    stdout: '',
    stderr: `inlet backup: ${out} exists already (--force replaces it)\n`,
  })
})

test('vacuum on a live database after deletions: the database shrinks, writes meanwhile are acknowledged, every answer stays exact', async (t) => {
  const { base, file, url } = await readyServer(t, { ADMIN_TOKEN: 'a' })
  const bodies = Array.from({ length: 4000 }, (_, i) =>
    // The erased sender's rows come first, together: their pages are freed whole.
    message({
      from: i < 1000 ? '+2' : `+${[1, 3, 4][i % 3]}`,
      text: `${i % 2 ? 'old' : 'new'} words ${'x'.repeat(200)}`,
    }),
  )
  for (let i = 0; i < bodies.length; i += 100) {
    await Promise.all(bodies.slice(i, i + 100).map((body) => post(base, JSON.stringify(body))))
  }
  const erased = await fetch(`${base}/messages?from=%2B2`, {
    method: 'DELETE',
    headers: { authorization: 'Bearer a' },
  })
  assert.deepEqual(await erased.json(), { deleted: 1000 })
  const freePages = () => {
    const db = new Database(file, { readonly: true })
    try {
      return db.pragma('freelist_count', { simple: true }) as number
    } finally {
      db.close()
    }
  }
  assert.ok(freePages() > 0, 'the erasure left free pages')

  const load = keepPosting(base, 2, () => message({ from: '+1' }))
  await new Promise((resolve) => setTimeout(resolve, 50))
  const result = await runCli(['vacuum', '--database', url])
  await load.stop()
  assert.equal(result.code, 0, result.stderr)
  const summary = /^vacuum: ([\d.]+) MB → ([\d.]+) MB, (\d+) messages, indexes checked\n$/.exec(result.stdout)
  assert.ok(summary, result.stdout)
  assert.ok(Number(summary[2]) < Number(summary[1]), result.stdout)
  assert.ok(
    load.statuses.length > 0 && load.statuses.every((status) => status === 200),
    `writes during the vacuum: ${load.statuses}`,
  )
  assert.equal(freePages(), 0)
  await checkExact(base, await storedMessages(file), [{ from: '+2' }, { from: '+1', q: 'new' }])
})

test('vacuum finding an index entry whose rowid no longer names its message empties the indexes and exits 1', async (t) => {
  const server = await readyServer(t)
  const { base, file, url } = server
  for (let i = 0; i < 20; i++) await post(base, JSON.stringify(message({ text: `words ${i}` })))
  await new Promise((resolve) => setTimeout(resolve, 300)) // both indexes catch up
  server.child.kill('SIGTERM')
  await server.exited
  // What a VACUUM that renumbered rows would leave: an entry naming another message's rowid.
  const db = new Database(file)
  db.exec('UPDATE sender_index SET row = row + 1000 WHERE row = (SELECT min(row) FROM sender_index)')
  db.close()
  const result = await runCli(['vacuum', '--database', url])
  assert.deepEqual(result, {
    code: 1,
    stdout: '',
    stderr:
      'inlet vacuum: VACUUM renumbered rows (index entries that no longer matched: 1); the indexes were emptied: restart the server to rebuild them\n',
  })
  const after = new Database(file, { readonly: true })
  t.after(() => after.close())
  assert.equal(after.prepare('SELECT count(*) FROM sender_index').pluck().get(), 0)
  assert.equal(after.prepare('SELECT indexed_rowid FROM index_progress').pluck().get(), 0)
  const search = new Database(path.join(path.dirname(file), 'app.search.db'), { readonly: true })
  t.after(() => search.close())
  assert.equal(search.prepare('SELECT owner FROM search_progress').pluck().get(), 'renumbered')
  // Restarted, the server rebuilds both and answers as before.
  const again = await startServer({ WEBHOOK_SECRET: SECRET, DATABASE_URL: url })
  t.after(async () => {
    again.child.kill('SIGKILL')
    await again.exited
  })
  const againBase = `http://127.0.0.1:${again.port}`
  await waitForHttp(`${againBase}/health/ready`)
  for (let i = 0; after.prepare('SELECT count(*) FROM sender_index').pluck().get() !== 20; i++) {
    assert.ok(i < 200, 'the sender index was never rebuilt')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await checkExact(againBase, await storedMessages(file), [{ from: '+919876543210', q: 'words 1' }])
})

test('backup of PostgreSQL exits 1 and points to pg_dump', async () => {
  assert.deepEqual(
    await runCli(['backup', '--out', 'x.db'], { env: { DATABASE_URL: 'postgres://db/inlet' } }),
    {
      code: 1,
      stdout: '',
      stderr:
        'inlet backup: backs up SQLite only; for PostgreSQL use pg_dump: pg_dump --format=custom --file inlet.dump "$DATABASE_URL" (restore with pg_restore)\n',
    },
  )
})

test('export from a SQLite server, import into PostgreSQL: the same messages, exactly once', {
  skip: POSTGRES_SKIP_REASON,
}, async (t) => {
  const server = await readyServer(t)
  for (const n of [2, 1, 3]) {
    const body = message({
      message_id: `move-${n}`,
      ts: `2025-01-15T10:00:0${n}Z`,
      text: n === 3 ? null : `row ${n}`,
    })
    assert.equal((await post(server.base, JSON.stringify(body))).status, 200)
  }
  const exported = await runCli(['export', '--url', server.base])
  assert.equal(exported.code, 0)
  const { url } = await freshSchema(t)
  const first = await runCli(['import', '--database', url], { stdin: exported.stdout })
  assert.deepEqual(first, { code: 0, stdout: 'created 3, duplicate 0, failed 0\n', stderr: '' })
  const again = await runCli(['import', '--database', url], { stdin: exported.stdout })
  assert.deepEqual(again, { code: 0, stdout: 'created 0, duplicate 3, failed 0\n', stderr: '' })
  const stored = await queryOnce(
    url,
    'SELECT message_id, from_msisdn, to_msisdn, ts, text FROM messages ORDER BY ts_key',
  )
  assert.deepEqual(
    stored.rows,
    (await allMessages(server.base)).map((m) => ({
      message_id: m.message_id,
      from_msisdn: m.from,
      to_msisdn: m.to,
      ts: m.ts,
      text: m.text,
    })),
  )
})

test('tail resumes after the last event it printed when the server goes away and comes back', async (t) => {
  const dir = tempDir(t)
  const env = { WEBHOOK_SECRET: SECRET, DATABASE_URL: `sqlite:///${path.join(dir, 'app.db')}` }
  const port = String(await freePort())
  const first = await startServer({ ...env, PORT: port })
  t.after(() => first.child.kill('SIGKILL'))
  const base = `http://127.0.0.1:${port}`
  await waitForHttp(`${base}/health/ready`)
  const tail = spawnCli(['tail', '--from-start', '--count', '2'], { env: { INLET_URL: base } })
  t.after(() => tail.child.kill('SIGKILL'))
  assert.equal((await post(base, JSON.stringify(message({ message_id: 'before-restart' })))).status, 200)
  while (!tail.stdout().includes('\n') && tail.child.exitCode === null) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  first.child.kill('SIGTERM')
  assert.equal(await first.exited, 0)

  const second = await startServer({ ...env, PORT: port })
  t.after(() => second.child.kill('SIGKILL'))
  await waitForHttp(`${base}/health/ready`)
  assert.equal(
    (await post(base, JSON.stringify(message({ message_id: 'after-restart', text: 'back' })))).status,
    200,
  )
  const { code, stdout, stderr } = await tail.result
  assert.equal(code, 0)
  assert.deepEqual(
    stdout.split('\n').map((line) => line.split(' ')[0]),
    ['1', '2', ''],
    'each event once, in order',
  )
  assert.match(stdout.split('\n')[1] as string, /: back$/)
  assert.ok(
    reports(stderr, 'tail').some((line) => line.includes('reconnecting in')),
    stderr,
  )
})
