import assert from 'node:assert/strict'
import { once } from 'node:events'
import { request as httpRequest } from 'node:http'
import { test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import type { Message } from '../src/storage/message-store.js'
import type { InletStore } from '../src/storage/open-store.js'
import { randomMessages } from './helpers/reference.js'
import { createTestApp, metricValue, postSigned, storeBulk } from './helpers/test-app.js'

/** Every item of GET /messages for a query string, paged to the end by its Link cursor. */
async function pagedToTheEnd(app: FastifyInstance, query: string): Promise<Message[]> {
  const items: Message[] = []
  let url: string | undefined = `/messages?limit=100${query ? `&${query}` : ''}`
  while (url !== undefined) {
    const page: Awaited<ReturnType<typeof app.inject>> = await app.inject({ method: 'GET', url })
    assert.equal(page.statusCode, 200)
    items.push(...(page.json() as { data: Message[] }).data)
    url = /^<([^>]+)>; rel="next"$/.exec(String(page.headers.link ?? ''))?.[1]
  }
  return items
}

/** A few thousand messages (more than one export page) with ties, duplicates and null texts. */
async function seed(store: InletStore, count: number): Promise<void> {
  const messages = randomMessages(7, count).map((m, i) => ({
    ...m,
    text: m.text === null ? null : (['hello', 'Écoute', 'x, "y"', 'café'][i % 4] as string),
  }))
  for (let i = 0; i < messages.length; i += 500) {
    await store.ingest({ messages: messages.slice(i, i + 500), statuses: [] })
  }
}

test('NDJSON export equals /messages paged to the end, for every filter and an empty result', async (t) => {
  const { app, store } = await createTestApp(t)
  await seed(store, 2600)
  for (const query of [
    '',
    'from=%2B105',
    'from=+105',
    'since=2025-01-02T00:00:01Z',
    'q=%C3%89COUTE',
    'from=%2B103&q=caf',
    'q=nothing-matches',
  ]) {
    const expected = await pagedToTheEnd(app, query)
    const response = await app.inject({ method: 'GET', url: `/export?format=ndjson&${query}` })
    assert.equal(response.statusCode, 200, query)
    assert.equal(response.headers['content-type'], 'application/x-ndjson; charset=utf-8')
    assert.match(
      String(response.headers['content-disposition']),
      /^attachment; filename="inlet-messages-\d{8}T\d{6}Z\.ndjson"$/,
    )
    const expectedBody = expected.map((item) => `${JSON.stringify(item)}\n`).join('')
    assert.equal(response.body, expectedBody, query)
    if (query === '') assert.ok(expected.length > 1000, 'the export crosses pages')
    if (query === 'q=nothing-matches') assert.equal(response.body, '')
  }
  // The default format is NDJSON.
  const plain = await app.inject({ method: 'GET', url: '/export?from=%2B105' })
  assert.equal(
    plain.body,
    (await app.inject({ method: 'GET', url: '/export?format=ndjson&from=%2B105' })).body,
  )
})

test('CSV export has the header, then every match in order; empty result is the header alone', async (t) => {
  const { app, store } = await createTestApp(t)
  await seed(store, 1500)
  for (const query of ['', 'since=2025-01-03T00:00:00Z&q=hello']) {
    const expected = await pagedToTheEnd(app, query)
    const response = await app.inject({ method: 'GET', url: `/export?format=csv&${query}` })
    assert.equal(response.statusCode, 200)
    assert.equal(response.headers['content-type'], 'text/csv; charset=utf-8; header=present')
    assert.match(
      String(response.headers['content-disposition']),
      /filename="inlet-messages-\d{8}T\d{6}Z\.csv"$/,
    )
    const quote = (cell: string) => (/[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell)
    const rows = expected.map((m) =>
      [m.message_id, `'${m.from}`, `'${m.to}`, m.ts, m.text ?? ''].map(quote).join(','),
    )
    assert.equal(response.body, ['message_id,from,to,ts,text', ...rows].map((row) => `${row}\r\n`).join(''))
  }
  const empty = await app.inject({ method: 'GET', url: '/export?format=csv&q=nothing-matches' })
  assert.equal(empty.statusCode, 200)
  assert.equal(empty.body, 'message_id,from,to,ts,text\r\n')
})

test('CSV quotes commas, quotes and line breaks (RFC 4180), keeps emoji, and neutralises formulas', async (t) => {
  const { app } = await createTestApp(t)
  const texts = [
    'a, b',
    'say "hi"',
    'two\nlines',
    'carriage\r\nreturn',
    '=HYPERLINK("http://x","y")',
    '+1+2',
    '-2+3',
    '@SUM(A1)',
    '\tTAB',
    '😀 ok',
    'plain',
  ]
  for (const [i, text] of texts.entries()) {
    const sent = await postSigned(app, {
      message_id: `c${i}`,
      from: '+1',
      to: '+2',
      ts: `2025-01-01T00:00:${String(i).padStart(2, '0')}Z`,
      text,
    })
    assert.equal(sent.statusCode, 200)
  }
  await postSigned(app, { message_id: '=cmd', from: '+1', to: '+2', ts: '2025-01-02T00:00:00Z' })
  const response = await app.inject({ method: 'GET', url: '/export?format=csv' })
  assert.equal(
    response.body,
    [
      'message_id,from,to,ts,text',
      'c0,\'+1,\'+2,2025-01-01T00:00:00Z,"a, b"',
      'c1,\'+1,\'+2,2025-01-01T00:00:01Z,"say ""hi"""',
      'c2,\'+1,\'+2,2025-01-01T00:00:02Z,"two\nlines"',
      'c3,\'+1,\'+2,2025-01-01T00:00:03Z,"carriage\r\nreturn"',
      'c4,\'+1,\'+2,2025-01-01T00:00:04Z,"\'=HYPERLINK(""http://x"",""y"")"',
      "c5,'+1,'+2,2025-01-01T00:00:05Z,'+1+2",
      "c6,'+1,'+2,2025-01-01T00:00:06Z,'-2+3",
      "c7,'+1,'+2,2025-01-01T00:00:07Z,'@SUM(A1)",
      "c8,'+1,'+2,2025-01-01T00:00:08Z,'\tTAB",
      "c9,'+1,'+2,2025-01-01T00:00:09Z,😀 ok",
      "c10,'+1,'+2,2025-01-01T00:00:10Z,plain",
      "'=cmd,'+1,'+2,2025-01-02T00:00:00Z,",
    ]
      .map((row) => `${row}\r\n`)
      .join(''),
  )
})

test('export refuses a bad format or filter with a 422, and sits behind READ_API_TOKEN', async (t) => {
  const { app } = await createTestApp(t, { env: { READ_API_TOKEN: 'read-token' } })
  const auth = { authorization: 'Bearer read-token' }
  const unauthorized = await app.inject({ method: 'GET', url: '/export' })
  assert.equal(unauthorized.statusCode, 401)
  assert.deepEqual(unauthorized.json(), { detail: 'unauthorized' })
  const format = await app.inject({ method: 'GET', url: '/export?format=xml', headers: auth })
  assert.equal(format.statusCode, 422)
  assert.deepEqual(
    (format.json() as { detail: { loc: unknown }[] }).detail.map((issue) => issue.loc),
    [['query', 'format']],
  )
  const since = await app.inject({ method: 'GET', url: '/export?since=yesterday', headers: auth })
  assert.equal(since.statusCode, 422)
  assert.deepEqual((since.json() as { detail: { loc: unknown }[] }).detail[0]?.loc, ['query', 'since'])
  const post = await app.inject({ method: 'POST', url: '/export', headers: auth })
  assert.equal(post.statusCode, 405)
  const ok = await app.inject({ method: 'GET', url: '/export', headers: auth })
  assert.equal(ok.statusCode, 200)
  assert.equal(ok.body, '')
})

test('a client that leaves mid-export ends the reading; the store keeps serving', async (t) => {
  const { app, store } = await createTestApp(t, { discardLogs: true })
  const rows = 30_000
  await storeBulk(store, 'x', rows)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }

  const before = await metricValue(app, 'export_rows_total{format="ndjson"}')
  const request = httpRequest({ host: '127.0.0.1', port, path: '/export' })
  request.end()
  const [response] = (await once(request, 'response')) as [import('node:http').IncomingMessage]
  assert.equal(response.statusCode, 200)
  response.pause()
  // The export is under way: its gauge says so while the client reads nothing more.
  assert.equal(await metricValue(app, 'exports_in_progress'), 1)
  response.destroy()
  for (let tries = 0; (await metricValue(app, 'exports_in_progress')) !== 0; tries += 1) {
    assert.ok(tries < 200, 'the export ends after its client left')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  const written = (await metricValue(app, 'export_rows_total{format="ndjson"}')) - before
  assert.ok(written > 0 && written < rows, `stopped early: ${written} of ${rows} rows read`)
  const page = await app.inject({ method: 'GET', url: '/messages?limit=1' })
  assert.equal((page.json() as { total: number }).total, rows)
})
