import assert from 'node:assert/strict'
import { test } from 'node:test'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { signWebhookBody } from '../src/sources/webhook/signature.js'
import { signWhatsAppBody } from '../src/sources/whatsapp/signature.js'
import { createTestApp, message, SECRET, type TestApp } from './helpers/test-app.js'
import { APP_SECRET, envelope, fixture, statusItem, textItem, WHATSAPP_ENV } from './helpers/whatsapp.js'

// Property tests over hostile input. `npm test` runs a few hundred cases per property with a
// fixed seed (the same cases every run); `npm run fuzz` runs many more (FUZZ_RUNS) with a
// fresh seed, printed so that a failure can be replayed with FUZZ_SEED.
const RUNS = Number(process.env.FUZZ_RUNS ?? 300)
const SEED = Number(process.env.FUZZ_SEED ?? (process.env.FUZZ_RUNS ? Date.now() % 2 ** 31 : 42))
if (process.env.FUZZ_RUNS) process.stdout.write(`# fuzz: ${RUNS} runs per property, seed ${SEED}\n`)
const settings = { numRuns: RUNS, seed: SEED, endOnFailure: true }

/** Percent-encodes any string; a lone surrogate (which no URL can carry) becomes U+FFFD. */
const encode = (s: string) => encodeURIComponent(s.toWellFormed())
/** Raw URL pieces a client can send that are not valid percent-encoded UTF-8. */
const rawJunk = fc.constantFrom('%', '%zz', '%ff%fe', '%ED%A0%80', '%00', '%C0%AF', '+', '&&', '==', '%2')

/** A full garbage collection, without starting node with --expose-gc. */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
}

const PATHS = [
  '/webhook',
  '/webhooks/whatsapp',
  '/messages',
  '/statuses',
  '/stats',
  '/health/live',
  '/health/ready',
  '/metrics',
]
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE'] as const

/** Strings that trip parsers: control characters, quotes, escapes, surrogates, huge numbers. */
const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\0',
    '\n',
    '\r\n',
    '%',
    '%00',
    '%zz',
    '"',
    "'",
    '\\',
    '\ud800',
    '😀',
    '1e999',
    '-0',
    '9'.repeat(30),
  ),
  fc.string({ maxLength: 40 }),
)

/** Documented bodies only: {"status":"ok"}, a detail string, or FastAPI's list of issues. */
function assertDocumentedBody(response: LightMyRequestResponse, method: string): void {
  assert.ok(response.statusCode < 500, `${response.statusCode}: ${response.body}`)
  if (method === 'HEAD') return
  const url = response.raw.req.url ?? ''
  // /metrics answers Prometheus text; everything else is JSON.
  if (response.statusCode === 200 && url.startsWith('/metrics')) return
  const body = response.json() as Record<string, unknown>
  if (response.statusCode < 300) {
    assert.ok(typeof body === 'object' && body !== null)
    return
  }
  assert.deepEqual(Object.keys(body), ['detail'], response.body)
  if (typeof body.detail === 'string') return
  assert.ok(Array.isArray(body.detail), response.body)
  for (const issue of body.detail as Record<string, unknown>[]) {
    assert.deepEqual(Object.keys(issue).sort(), ['loc', 'msg', 'type'])
    assert.ok(Array.isArray(issue.loc) && typeof issue.msg === 'string' && typeof issue.type === 'string')
  }
}

/** The app's answer, or null when the request could not even be sent (as with a real client). */
async function injectOrRefused(
  testApp: TestApp,
  options: InjectOptions,
): Promise<LightMyRequestResponse | null> {
  try {
    return await testApp.app.inject(options)
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_INVALID_CHAR') return null
    throw error
  }
}

async function storedTotal(testApp: TestApp): Promise<number> {
  return (await testApp.store.stats()).total_messages
}

async function storedStatuses(testApp: TestApp): Promise<number> {
  const [row] = await testApp.database.query('SELECT count(*) AS n FROM message_statuses')
  return Number(row?.n)
}

/** Every log write is one line of JSON: no field can break the format. */
function assertLogLines(testApp: TestApp): void {
  for (const line of testApp.logs()) assert.equal(typeof line, 'object')
}

test('webhook bodies, random or mutated, signed or not: never a 5xx, never a row without a valid signature', {
  timeout: 600_000,
}, async (t) => {
  const testApp = await createTestApp(t)
  const valid = JSON.stringify(message())
  const body = fc.oneof(
    // Bytes, JSON values, and a valid body with bytes flipped, cut or inserted.
    fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
    fc.jsonValue({ maxDepth: 3 }).map((value) => Buffer.from(JSON.stringify(value) ?? 'null')),
    fc
      .record(
        {
          message_id: fc.oneof(nasty, fc.uuid()),
          from: fc.oneof(nasty, fc.constant('+15550001')),
          to: fc.oneof(nasty, fc.constant('+15550002')),
          ts: fc.oneof(
            nasty,
            fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          ),
          text: fc.oneof(nasty, fc.constant(null), fc.string({ maxLength: 5000 })),
        },
        { requiredKeys: [] },
      )
      .map((record) => Buffer.from(JSON.stringify(record))),
    fc
      .tuple(fc.nat(valid.length), fc.nat(valid.length), fc.string({ unit: 'binary', maxLength: 5 }))
      .map(([at, cut, insert]) => Buffer.from(valid.slice(0, at) + insert + valid.slice(Math.max(at, cut)))),
  )
  // Usually the true length (set by the client); sometimes a lie, a non-number or a huge one.
  const contentLength = fc.option(
    fc.oneof(fc.nat(400).map(String), fc.constantFrom('-1', 'abc', '1e3', '99999999999', '')),
    {
      freq: 4,
    },
  )
  const signing = fc.constantFrom('valid', 'none', 'wrong', 'garbage', 'upper')
  const contentType = fc.constantFrom(
    undefined,
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    ';;;',
    'multipart/form-data; boundary=x',
  )
  await fc.assert(
    fc.asyncProperty(
      body,
      signing,
      contentType,
      nasty,
      contentLength,
      async (raw, how, type, requestId, length) => {
        const headers: Record<string, string> = {}
        if (type !== undefined) headers['content-type'] = type
        if (length !== null) headers['content-length'] = length
        if (how === 'valid') headers['x-signature'] = signWebhookBody(SECRET, raw)
        if (how === 'upper') headers['x-signature'] = signWebhookBody(SECRET, raw).toUpperCase()
        if (how === 'wrong') headers['x-signature'] = signWebhookBody('not-the-secret', raw)
        if (how === 'garbage') headers['x-signature'] = 'sha256=zz'
        // Values with line breaks or NUL cannot be sent in a real request.
        if (!/[\0\r\n]/.test(requestId)) headers['x-request-id'] = requestId
        const before = await storedTotal(testApp)
        const response = await injectOrRefused(testApp, {
          method: 'POST',
          url: '/webhook',
          payload: raw,
          headers,
        })
        if (response === null) return
        assertDocumentedBody(response, 'POST')
        const signed = how === 'valid' || how === 'upper'
        if (!signed && response.statusCode !== 400 && response.statusCode !== 413) {
          assert.equal(response.statusCode, 401)
        }
        if (!signed) assert.equal(await storedTotal(testApp), before, 'an unsigned body stored a row')
        if (response.statusCode === 200) assert.deepEqual(response.json(), { status: 'ok' })
      },
    ),
    settings,
  )
  assertLogLines(testApp)
})

test('WhatsApp envelopes, random or mutated, signed or not: never a 5xx, never a row without a valid signature', {
  timeout: 600_000,
}, async (t) => {
  const testApp = await createTestApp(t, { env: WHATSAPP_ENV })
  const fixtures = [
    'text',
    'media',
    'interactive',
    'reaction',
    'location-contacts',
    'unknown',
    'statuses',
    'batch',
    'escaped',
  ].map(fixture)
  // Values that sit where Meta puts ids, numbers and timestamps: right, wrong and hostile.
  const scalar = fc.oneof(
    nasty,
    fc.constantFrom(
      '16505551234',
      '1749416383',
      '0',
      '99999999999999999',
      'sent',
      'delivered',
      'read',
      'failed',
    ),
    fc.integer().map(String),
    fc.integer(),
    fc.constant(null),
  )
  const item = fc.oneof(
    fc.record(
      { id: scalar, from: scalar, timestamp: scalar, type: scalar, text: fc.record({ body: scalar }) },
      { requiredKeys: [] },
    ),
    fc.constant(null).map(() => textItem()),
    fc.jsonValue({ maxDepth: 2 }),
  )
  const status = fc.oneof(
    fc.record(
      {
        id: scalar,
        status: scalar,
        timestamp: scalar,
        recipient_id: scalar,
        errors: fc.jsonValue({ maxDepth: 2 }),
      },
      { requiredKeys: [] },
    ),
    fc
      .tuple(
        fc.constantFrom('sent', 'delivered', 'read', 'played', 'failed', 'deleted'),
        fc.nat(2_000_000_000),
      )
      .map(([kind, at]) => statusItem(`wamid.fuzz-${at % 50}`, kind, String(at))),
  )
  const structured = fc
    .record({
      messages: fc.array(item, { maxLength: 5 }),
      statuses: fc.array(status, { maxLength: 5 }),
      contacts: fc.array(fc.record({ wa_id: scalar, profile: fc.record({ name: scalar }) }), {
        maxLength: 2,
      }),
      phone: fc.oneof(fc.constant('15550783881'), fc.string({ maxLength: 20 })),
      field: fc.constantFrom('messages', 'messages', 'account_update', ''),
    })
    .map(({ field, ...value }) => {
      const body = envelope(value) as { entry: { changes: { field: string }[] }[] }
      const [change] = body.entry[0]?.changes ?? []
      if (change) change.field = field
      return Buffer.from(JSON.stringify(body))
    })
  const body = fc.oneof(
    structured,
    fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
    fc.jsonValue({ maxDepth: 3 }).map((value) => Buffer.from(JSON.stringify(value) ?? 'null')),
    // A fixture with bytes cut or inserted: broken escapes, truncated UTF-8, torn structure.
    fc
      .tuple(fc.constantFrom(...fixtures), fc.nat(), fc.nat(40), fc.string({ unit: 'binary', maxLength: 5 }))
      .map(([raw, at, cut, insert]) => {
        const text = raw.toString('latin1')
        const from = at % (text.length + 1)
        return Buffer.from(text.slice(0, from) + insert + text.slice(from + cut), 'latin1')
      }),
  )
  const signing = fc.constantFrom(
    'valid',
    'valid',
    'none',
    'wrong',
    'garbage',
    'sha1',
    'bare',
    'upper-prefix',
  )
  await fc.assert(
    fc.asyncProperty(body, signing, async (raw, how) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      const hex = signWhatsAppBody(APP_SECRET, raw).slice('sha256='.length)
      if (how === 'valid') headers['x-hub-signature-256'] = `sha256=${hex}`
      if (how === 'wrong') headers['x-hub-signature-256'] = signWhatsAppBody('not-the-secret', raw)
      if (how === 'garbage') headers['x-hub-signature-256'] = 'sha256=zz'
      if (how === 'sha1') headers['x-hub-signature-256'] = `sha1=${hex}`
      if (how === 'bare') headers['x-hub-signature-256'] = hex
      if (how === 'upper-prefix') headers['x-hub-signature-256'] = `SHA256=${hex}`
      const before = [await storedTotal(testApp), await storedStatuses(testApp)]
      const response = await testApp.app.inject({
        method: 'POST',
        url: '/webhooks/whatsapp',
        payload: raw,
        headers,
      })
      assertDocumentedBody(response, 'POST')
      const after = [await storedTotal(testApp), await storedStatuses(testApp)]
      if (how !== 'valid') {
        assert.equal(response.statusCode, 401, response.body)
        assert.deepEqual(after, before, 'an unsigned envelope stored a row')
        return
      }
      assert.ok([200, 422].includes(response.statusCode), `${response.statusCode}: ${response.body}`)
      if (response.statusCode === 200) assert.deepEqual(response.json(), { status: 'ok' })
      else assert.deepEqual(after, before, 'a refused envelope stored a row')
    }),
    settings,
  )
  // The signed cases reached the store, not only the refusals.
  assert.ok((await storedTotal(testApp)) > 0 && (await storedStatuses(testApp)) > 0)
  assertLogLines(testApp)
})

test('any method, path, query and headers against every endpoint: a documented answer, never a 5xx', {
  timeout: 600_000,
}, async (t) => {
  const testApp = await createTestApp(t, { env: WHATSAPP_ENV })
  const queryParam = fc.tuple(
    fc.oneof(
      fc.constantFrom(
        'limit',
        'offset',
        'from',
        'since',
        'q',
        'cursor',
        'status',
        'recipient',
        'hub.mode',
        'hub.verify_token',
        'hub.challenge',
      ),
      nasty.map(encode),
      rawJunk,
    ),
    fc.oneof(nasty.map(encode), rawJunk, fc.integer().map(String), fc.constant('2025-01-01T00%3A00%3A00Z')),
  )
  const path = fc.oneof(
    fc.constantFrom(...PATHS),
    fc.tuple(fc.constantFrom(...PATHS), fc.oneof(nasty.map(encode), rawJunk)).map(([p, s]) => `${p}/${s}`),
    fc.webPath().map((p) => p || '/'), // an empty request-target cannot be sent
  )
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...METHODS),
      path,
      fc.array(queryParam, { maxLength: 5 }),
      fc.dictionary(
        fc.constantFrom(
          'x-request-id',
          'authorization',
          'content-type',
          'accept',
          'x-signature',
          'x-hub-signature-256',
        ),
        nasty,
      ),
      async (method, urlPath, query, headerValues) => {
        const search = query.map(([k, v]) => `${k}=${v}`).join('&')
        const headers: Record<string, string> = {}
        for (const [name, value] of Object.entries(headerValues)) {
          // Values with line breaks or NUL cannot be sent in a real request.
          if (!/[\0\r\n]/.test(value)) headers[name] = value
        }
        const url = search ? `${urlPath}?${search}` : urlPath
        const response = await injectOrRefused(testApp, { method, url, headers })
        if (response !== null) assertDocumentedBody(response, method)
      },
    ),
    settings,
  )
  assertLogLines(testApp)
})

test('memory stays bounded across many hostile requests', { timeout: 600_000 }, async (t) => {
  const testApp = await createTestApp(t, { discardLogs: true })
  const hostile = (i: number) =>
    testApp.app.inject({
      method: 'POST',
      url: i % 2 === 0 ? '/webhook' : `/x${i}?q=${i}`,
      payload: Buffer.alloc(1000 + (i % 50_000), i % 256),
      headers: { 'x-signature': 'f'.repeat(64), 'x-request-id': `r${i}` },
    })
  for (let i = 0; i < 2_000; i++) await hostile(i) // warm up: caches, JIT, pools
  collectGarbage()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < Math.min(RUNS * 20, 100_000); i++) await hostile(i)
  collectGarbage()
  const grownMiB = (process.memoryUsage().heapUsed - before) / 2 ** 20
  if (process.env.FUZZ_RUNS)
    process.stdout.write(`# heap after the hostile requests: ${grownMiB.toFixed(1)} MiB more\n`)
  // After a full collection only what is still referenced counts: a leak of the bodies
  // (each ~25 KiB on average) would be hundreds of MiB.
  assert.ok(grownMiB < 16, `heap grew by ${grownMiB.toFixed(1)} MiB`)
})
