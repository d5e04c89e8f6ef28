import assert from 'node:assert/strict'
import { test } from 'node:test'
import { signWebhookBody } from '../src/sources/webhook/signature.js'
import { createTestApp, message, metricValue, postSigned, SECRET } from './helpers/test-app.js'

test('POST /webhook stores a valid message exactly as sent and answers {"status":"ok"}', async (t) => {
  const { app, database } = await createTestApp(t)
  const body = message({ ts: '2025-01-15T10:00:00.120Z', text: 'Héllo 👋' })
  const response = await postSigned(app, body)
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), { status: 'ok' })
  assert.deepEqual(await database.rows(), [
    { message_id: body.message_id, from_msisdn: body.from, to_msisdn: body.to, ts: body.ts, text: body.text },
  ])
})

test('POST /webhook stores text as null when it is absent or null, and ignores extra fields', async (t) => {
  const { app, database } = await createTestApp(t)
  const absent = message({ extra: { nested: true } })
  delete absent.text
  const explicitNull = message({ text: null })
  assert.equal((await postSigned(app, absent)).statusCode, 200)
  assert.equal((await postSigned(app, explicitNull)).statusCode, 200)
  assert.deepEqual(
    (await database.rows()).map((row) => (row as { text: unknown }).text),
    [null, null],
  )
})

test('a repeated message_id answers 200 and keeps the first write; X-Inlet-Result tells them apart', async (t) => {
  const { app, database, accessLines } = await createTestApp(t)
  const first = message({ text: 'first' })
  const second = { ...first, text: 'second', from: '+111' }
  const created = await postSigned(app, first)
  assert.equal(created.statusCode, 200)
  assert.equal(created.headers['x-inlet-result'], 'created')
  const again = await postSigned(app, second)
  assert.equal(again.statusCode, 200)
  assert.equal(again.body, created.body, 'the same bytes either way')
  assert.deepEqual(again.json(), { status: 'ok' })
  // The one difference, for clients that count (inlet send).
  assert.equal(again.headers['x-inlet-result'], 'duplicate')
  const rows = (await database.rows()) as { text: string; from_msisdn: string }[]
  assert.equal(rows.length, 1)
  assert.equal(rows[0]?.text, 'first')
  assert.equal(rows[0]?.from_msisdn, first.from)
  assert.deepEqual(
    accessLines().map((line) => [line.result, line.dup]),
    [
      ['created', false],
      ['duplicate', true],
    ],
  )
})

test('concurrent deliveries of one message_id store one row; exactly one is "created"', async (t) => {
  const { app, database, accessLines } = await createTestApp(t)
  const base = message()
  const responses = await Promise.all(
    Array.from({ length: 25 }, (_, i) => postSigned(app, { ...base, text: `copy ${i}` })),
  )
  assert.deepEqual(
    responses.map((r) => r.statusCode),
    responses.map(() => 200),
  )
  const rows = (await database.rows()) as { text: string }[]
  assert.equal(rows.length, 1)
  const results = accessLines().map((line) => line.result)
  assert.equal(results.filter((r) => r === 'created').length, 1)
  assert.equal(results.filter((r) => r === 'duplicate').length, 24)
  // The first delivery handled is the one kept.
  const createdIndex = accessLines().findIndex((line) => line.result === 'created')
  assert.equal(createdIndex, 0)
  assert.equal(rows[0]?.text, 'copy 0')
})

const validBody = JSON.stringify(message({ message_id: 'sig-check' }))
const goodSignature = signWebhookBody(SECRET, Buffer.from(validBody))

const badSignatures: [string, Record<string, string>][] = [
  ['missing', {}],
  ['empty', { 'x-signature': '' }],
  ['one digit short', { 'x-signature': goodSignature.slice(0, 63) }],
  [
    'one digit long (a valid signature followed by an extra character)',
    { 'x-signature': `${goodSignature}0` },
  ],
  ['a valid signature followed by a space-separated suffix', { 'x-signature': `${goodSignature} x` }],
  ['much too long', { 'x-signature': goodSignature.repeat(3) }],
  ['64 characters with a non-hex one', { 'x-signature': `${goodSignature.slice(0, 63)}g` }],
  [
    'non-hex that Buffer.from would half-decode',
    { 'x-signature': `${goodSignature.slice(0, 10)}zz${goodSignature.slice(12)}` },
  ],
  ['prefixed with sha256=', { 'x-signature': `sha256=${goodSignature}` }],
  ['base64 of the right digest', { 'x-signature': Buffer.from(goodSignature, 'hex').toString('base64') }],
  ['signed with another secret', { 'x-signature': signWebhookBody('other-secret', Buffer.from(validBody)) }],
  [
    'over a re-serialized body',
    { 'x-signature': signWebhookBody(SECRET, Buffer.from(JSON.stringify(JSON.parse(validBody), null, 1))) },
  ],
  ['surrounded by whitespace', { 'x-signature': ` ${goodSignature}` }],
]

for (const [name, headers] of badSignatures) {
  test(`a signature that is ${name} answers 401 {"detail":"invalid signature"} and stores nothing`, async (t) => {
    const { app, database, accessLines } = await createTestApp(t)
    const before = await metricValue(app, 'webhook_requests_total{result="invalid_signature"}')
    const response = await app.inject({
      method: 'POST',
      url: '/webhook',
      payload: validBody,
      headers: { 'content-type': 'application/json', ...headers },
    })
    assert.equal(response.statusCode, 401)
    assert.equal(response.body, '{"detail":"invalid signature"}')
    assert.deepEqual(await database.rows(), [])
    const line = accessLines().find((l) => l.path === '/webhook')
    assert.equal(line?.level, 'error')
    assert.equal(line?.result, 'invalid_signature')
    assert.equal(line?.dup, false)
    assert.equal(await metricValue(app, 'webhook_requests_total{result="invalid_signature"}'), before + 1)
  })
}

test('the signature is accepted in upper-case hex', async (t) => {
  const { app } = await createTestApp(t)
  const raw = JSON.stringify(message())
  const response = await app.inject({
    method: 'POST',
    url: '/webhook',
    payload: raw,
    headers: { 'x-signature': signWebhookBody(SECRET, Buffer.from(raw)).toUpperCase() },
  })
  assert.equal(response.statusCode, 200)
})

test('a bad signature on a malformed body is 401, not 422: the signature is checked before parsing', async (t) => {
  const { app } = await createTestApp(t)
  const response = await app.inject({
    method: 'POST',
    url: '/webhook',
    payload: '{not json',
    headers: { 'x-signature': 'ab'.repeat(32) },
  })
  assert.equal(response.statusCode, 401)
  assert.deepEqual(response.json(), { detail: 'invalid signature' })
})

const notObjects: [string, Buffer][] = [
  ['malformed JSON', Buffer.from('{"message_id": "x",')],
  ['an empty body', Buffer.alloc(0)],
  ['an array', Buffer.from('[{"message_id":"x"}]')],
  ['a string', Buffer.from('"hello"')],
  ['null', Buffer.from('null')],
  ['a number', Buffer.from('42')],
  ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
  ['JSON followed by garbage', Buffer.from('{"a":1} trailing')],
]

for (const [name, raw] of notObjects) {
  test(`a correctly signed body that is ${name} answers 422 with loc ["body"]`, async (t) => {
    const { app, database, accessLines } = await createTestApp(t)
    const response = await postSigned(app, raw)
    assert.equal(response.statusCode, 422)
    const detail = response.json().detail as { loc: unknown[]; msg: string; type: string }[]
    assert.equal(detail.length, 1)
    assert.deepEqual(detail[0]?.loc, ['body'])
    assert.equal(typeof detail[0]?.msg, 'string')
    assert.equal(typeof detail[0]?.type, 'string')
    assert.deepEqual(await database.rows(), [])
    assert.equal(accessLines()[0]?.result, 'validation_error')
  })
}

test('the body is read as JSON whatever the Content-Type says', async (t) => {
  const { app } = await createTestApp(t)
  for (const contentType of [
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/octet-stream',
    undefined,
  ]) {
    const raw = Buffer.from(JSON.stringify(message()))
    const headers: Record<string, string> = { 'x-signature': signWebhookBody(SECRET, raw) }
    if (contentType) headers['content-type'] = contentType
    const response = await app.inject({ method: 'POST', url: '/webhook', payload: raw, headers })
    assert.equal(response.statusCode, 200, `content-type ${contentType}`)
  }
})

type Detail = { loc: (string | number)[]; msg: string; type: string }[]

async function fieldErrors(app: Parameters<typeof postSigned>[0], body: unknown): Promise<Detail> {
  const response = await postSigned(app, body)
  assert.equal(response.statusCode, 422, response.body)
  return response.json().detail as Detail
}

const invalidFields: [string, string, unknown][] = [
  ['message_id', 'missing', undefined],
  ['message_id', 'empty', ''],
  ['message_id', 'a number', 123],
  ['message_id', 'null', null],
  ['message_id', 'an unpaired surrogate', 'id-\ud800'],
  ['message_id', 'with a NUL character', 'id-\u0000-x'],
  ['from', 'missing', undefined],
  ['from', 'without +', '919876543210'],
  ['from', 'only +', '+'],
  ['from', '16 digits', '+1234567890123456'],
  ['from', 'with a letter', '+12a45'],
  ['from', 'with non-ASCII digits', '+١٢٣'],
  ['from', 'with a trailing newline', '+123\n'],
  ['from', 'with a leading space', ' +123'],
  ['from', 'a number', 919876543210],
  ['to', 'with a dash', '+1-415'],
  ['to', 'empty', ''],
  ['ts', 'missing', undefined],
  ['ts', 'February 30', '2025-02-30T10:00:00Z'],
  ['ts', 'February 29 of a common year', '2023-02-29T10:00:00Z'],
  ['ts', 'February 29 of 1900', '1900-02-29T10:00:00Z'],
  ['ts', 'hour 24', '2025-01-15T24:00:00Z'],
  ['ts', 'hour 25', '2025-01-15T25:00:00Z'],
  ['ts', 'minute 60', '2025-01-15T10:60:00Z'],
  ['ts', 'second 60', '2025-01-15T10:00:60Z'],
  ['ts', 'month 13', '2025-13-01T10:00:00Z'],
  ['ts', 'day 0', '2025-01-00T10:00:00Z'],
  ['ts', 'an offset', '2025-01-15T10:00:00+00:00'],
  ['ts', 'a space separator', '2025-01-15 10:00:00Z'],
  ['ts', 'date only', '2025-01-15'],
  ['ts', 'lower-case t and z', '2025-01-15t10:00:00z'],
  ['ts', 'no Z', '2025-01-15T10:00:00'],
  ['ts', 'an empty fraction', '2025-01-15T10:00:00.Z'],
  ['ts', 'a trailing newline', '2025-01-15T10:00:00Z\n'],
  ['ts', 'a number', 1736935200],
  ['text', 'a number', 5],
  ['text', '4097 characters', 'a'.repeat(4097)],
  ['text', '4097 emoji', '😀'.repeat(4097)],
  ['text', 'an unpaired surrogate', 'hi \udc00'],
  ['text', 'with a NUL character', 'hi \u0000 there'],
]

for (const [field, what, value] of invalidFields) {
  test(`${field} that is ${what} answers 422 naming ["body","${field}"]`, async (t) => {
    const { app, database } = await createTestApp(t)
    const body = message()
    if (value === undefined) delete body[field]
    else body[field] = value
    const detail = await fieldErrors(app, body)
    assert.deepEqual(
      detail.map((item) => item.loc),
      [['body', field]],
    )
    assert.ok(detail[0]?.msg && detail[0]?.type)
    assert.deepEqual(await database.rows(), [])
  })
}

test('every problem of a body is listed, each once, in the FastAPI shape', async (t) => {
  const { app } = await createTestApp(t)
  const detail = await fieldErrors(app, { from: 'nope', ts: '2025-02-30T00:00:00Z', text: 7, message_id: '' })
  // In field order, as FastAPI lists them, though the missing field is found first.
  assert.deepEqual(detail, [
    { loc: ['body', 'message_id'], msg: 'String should have at least 1 character', type: 'string_too_short' },
    {
      loc: ['body', 'from'],
      msg: "String should match pattern '^\\+[0-9]{1,15}$'",
      type: 'string_pattern_mismatch',
    },
    { loc: ['body', 'to'], msg: 'Field required', type: 'missing' },
    {
      loc: ['body', 'ts'],
      msg: 'Input should be a UTC timestamp YYYY-MM-DDTHH:MM:SS[.fraction]Z on a real calendar date',
      type: 'datetime_from_date_parsing',
    },
    { loc: ['body', 'text'], msg: 'Input should be a valid string', type: 'string_type' },
  ])
})

const validEdges: [string, Record<string, unknown>][] = [
  ['text of 4096 characters', { text: 'a'.repeat(4096) }],
  ['text of 4096 emoji (8192 UTF-16 units)', { text: '😀'.repeat(4096) }],
  ['an empty text', { text: '' }],
  ['February 29 of a leap year', { ts: '2024-02-29T23:59:59Z' }],
  ['February 29 of 2000', { ts: '2000-02-29T00:00:00Z' }],
  ['a fraction of a second', { ts: '2025-01-15T10:00:00.123456789Z' }],
  ['15-digit numbers', { from: '+123456789012345', to: '+1' }],
  ['a non-ASCII message_id', { message_id: 'ид-😀' }],
]

for (const [what, overrides] of validEdges) {
  test(`a body with ${what} is accepted and stored as sent`, async (t) => {
    const { app, database } = await createTestApp(t)
    const body = message(overrides)
    assert.equal((await postSigned(app, body)).statusCode, 200)
    const [row] = await database.rows()
    assert.equal(row?.message_id, body.message_id)
    assert.equal(row?.ts, body.ts)
    assert.equal(row?.text, body.text)
    assert.equal(row?.from_msisdn, body.from)
  })
}

test('a body over MAX_BODY_BYTES answers 413 before the signature is checked; one at the cap passes', async (t) => {
  const { app, database, accessLines } = await createTestApp(t, { env: { MAX_BODY_BYTES: '1024' } })
  const atCap = message({ text: '' })
  const padding = 1024 - Buffer.byteLength(JSON.stringify(atCap))
  atCap.text = 'x'.repeat(padding)
  assert.equal(Buffer.byteLength(JSON.stringify(atCap)), 1024)
  assert.equal((await postSigned(app, atCap)).statusCode, 200)

  const over = { ...message(), text: 'x'.repeat(padding + 1) }
  const response = await app.inject({
    method: 'POST',
    url: '/webhook',
    payload: JSON.stringify(over),
    headers: { 'x-signature': 'not-even-hex' },
  })
  assert.equal(response.statusCode, 413)
  assert.deepEqual(response.json(), { detail: 'payload too large' })
  assert.equal((await database.rows()).length, 1)
  assert.equal(accessLines()[1]?.result, 'payload_too_large')
  assert.equal(await metricValue(app, 'webhook_requests_total{result="payload_too_large"}'), 1)
})

test('without WEBHOOK_SECRET, POST /webhook answers 503 {"detail":"webhook secret not configured"}', async (t) => {
  const { app, database, accessLines } = await createTestApp(t, { env: { WEBHOOK_SECRET: '' } })
  const response = await postSigned(app, message())
  assert.equal(response.statusCode, 503)
  assert.deepEqual(response.json(), { detail: 'webhook secret not configured' })
  assert.deepEqual(await database.rows(), [])
  assert.equal(accessLines()[0]?.result, 'secret_not_configured')
})

test('a chunked body without Content-Length is cut off at the cap with 413, over a real socket', async (t) => {
  const { app, database } = await createTestApp(t, { env: { MAX_BODY_BYTES: '1024' } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const { request } = await import('node:http')
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/webhook',
        headers: { 'x-signature': 'a'.repeat(64) },
      },
      (res) => {
        let body = ''
        res.on('data', (chunk) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      },
    )
    req.on('error', reject)
    // Send more than the cap in small chunks; the server must answer without waiting for the end.
    for (let i = 0; i < 40; i++) req.write('x'.repeat(100))
    req.end()
  })
  assert.equal(answer.status, 413)
  assert.equal(answer.body, '{"detail":"payload too large"}')
  assert.deepEqual(await database.rows(), [])
})

test('a Content-Type that is not even a media type is ignored: size, then signature, then JSON', async (t) => {
  const { app } = await createTestApp(t, { env: { MAX_BODY_BYTES: '1024' } })
  const send = (payload: string, signature: string) =>
    app.inject({
      method: 'POST',
      url: '/webhook',
      payload,
      headers: { 'content-type': 'garbage', 'x-signature': signature },
    })
  const raw = JSON.stringify(message())
  assert.equal((await send(raw, signWebhookBody(SECRET, Buffer.from(raw)))).statusCode, 200)
  assert.equal((await send(raw, 'f'.repeat(64))).statusCode, 401)
  assert.equal((await send('x'.repeat(2000), 'f'.repeat(64))).statusCode, 413)
})

test('a body that starts with a UTF-8 byte-order mark is read as JSON', async (t) => {
  const { app, database } = await createTestApp(t)
  const body = message()
  const raw = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(body))])
  assert.equal((await postSigned(app, raw)).statusCode, 200)
  assert.equal(((await database.rows())[0] as { message_id: string }).message_id, body.message_id)
})
