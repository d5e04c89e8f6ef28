import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { test } from 'node:test'
import { signWhatsAppBody } from '../src/sources/whatsapp/signature.js'
import { createTestApp, message, metricValue, postSigned, type TestApp } from './helpers/test-app.js'
import {
  APP_SECRET,
  envelope,
  fixture,
  fixtureJson,
  postWhatsApp,
  statusItem,
  textItem,
  VERIFY_TOKEN,
  WHATSAPP_ENV,
} from './helpers/whatsapp.js'

// Meta's WhatsApp Cloud API webhooks (SPEC 2.2 and 2.3), on the adapter under test.

const whatsappApp = (t: Parameters<typeof createTestApp>[0], env: Record<string, string> = {}) =>
  createTestApp(t, { env: { ...WHATSAPP_ENV, ...env } })

const get = (testApp: TestApp, url: string) => testApp.app.inject({ method: 'GET', url })
const detail = async (testApp: TestApp, id: string) =>
  (await get(testApp, `/messages/${encodeURIComponent(id)}`)).json()

const verifyUrl = (params: Record<string, string>) => `/webhooks/whatsapp?${new URLSearchParams(params)}`

test('the verification GET echoes hub.challenge as text/plain when the token matches; no signature is asked for', async (t) => {
  const testApp = await whatsappApp(t)
  const response = await get(
    testApp,
    verifyUrl({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1158201444' }),
  )
  assert.equal(response.statusCode, 200)
  assert.equal(response.headers['content-type'], 'text/plain; charset=utf-8')
  assert.equal(response.body, '1158201444')
  assert.equal(await metricValue(testApp.app, 'whatsapp_requests_total{result="verified"}'), 1)
  assert.equal(testApp.accessLines()[0]?.result, 'verified')
})

for (const [name, params] of [
  ['a wrong token', { 'hub.mode': 'subscribe', 'hub.verify_token': 'nope', 'hub.challenge': '1' }],
  [
    'the token with a suffix',
    { 'hub.mode': 'subscribe', 'hub.verify_token': `${VERIFY_TOKEN}x`, 'hub.challenge': '1' },
  ],
  ['another mode', { 'hub.mode': 'unsubscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1' }],
  ['no mode', { 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1' }],
  ['no token', { 'hub.mode': 'subscribe', 'hub.challenge': '1' }],
  ['no challenge', { 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN }],
  ['nothing', {}],
] as const) {
  test(`the verification GET with ${name} answers 403 {"detail":"verification failed"}`, async (t) => {
    const testApp = await whatsappApp(t)
    const response = await get(testApp, verifyUrl(params as Record<string, string>))
    assert.equal(response.statusCode, 403)
    assert.deepEqual(response.json(), { detail: 'verification failed' })
    assert.equal(await metricValue(testApp.app, 'whatsapp_requests_total{result="verification_failed"}'), 1)
  })
}

test('without WHATSAPP_VERIFY_TOKEN the GET, and without WHATSAPP_APP_SECRET the POST, answer 503 whatsapp not configured; readiness is unchanged', async (t) => {
  const noToken = await createTestApp(t, { env: { WHATSAPP_APP_SECRET: APP_SECRET } })
  const getResponse = await get(
    noToken,
    verifyUrl({ 'hub.mode': 'subscribe', 'hub.verify_token': 'x', 'hub.challenge': '1' }),
  )
  assert.equal(getResponse.statusCode, 503)
  assert.deepEqual(getResponse.json(), { detail: 'whatsapp not configured' })
  assert.equal((await postWhatsApp(noToken.app, envelope({ messages: [textItem()] }))).statusCode, 200)

  const noSecret = await createTestApp(t, { env: { WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN } })
  const postResponse = await postWhatsApp(noSecret.app, envelope({ messages: [textItem()] }))
  assert.equal(postResponse.statusCode, 503)
  assert.deepEqual(postResponse.json(), { detail: 'whatsapp not configured' })
  assert.equal(await metricValue(noSecret.app, 'whatsapp_requests_total{result="not_configured"}'), 1)
  assert.equal((await get(noSecret, '/health/ready')).statusCode, 200)
  assert.deepEqual(await noSecret.database.rows(), [])
})

/** Each fixture message: the text Inlet shows, by type (SPEC 2.2). */
const EXPECTED_TEXTS: [fixture: string, id: string, type: string, text: string | null][] = [
  ['text', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQTEXT1', 'text', 'Does it come in another color?'],
  ['media', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQIMG1', 'image', 'The blue one'],
  ['media', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQVID1', 'video', 'Unboxing'],
  ['media', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQDOC1', 'document', 'Invoice for March'],
  ['media', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQDOC2', 'document', 'receipt.pdf'],
  ['media', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQAUD1', 'audio', null],
  ['media', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQSTK1', 'sticker', null],
  ['interactive', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQBTNR1', 'interactive', 'Yes, please'],
  ['interactive', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQLIST1', 'interactive', 'Medium'],
  ['interactive', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQBTN1', 'button', 'Stop promotions'],
  ['reaction', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQREACT1', 'reaction', '👍'],
  ['reaction', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQREACT2', 'reaction', null],
  [
    'location-contacts',
    'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQLOC1',
    'location',
    'Menlo Park Store, 1 Hacker Way, Menlo Park, CA',
  ],
  ['location-contacts', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQLOC2', 'location', null],
  ['location-contacts', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQCON1', 'contacts', 'Ana Souza, Jun Park'],
  ['unknown', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQUNS1', 'unsupported', null],
  ['unknown', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQORD1', 'order', null],
]

test('every message type Meta documents is stored with its text, type, contact name and payload', async (t) => {
  const testApp = await whatsappApp(t)
  for (const name of new Set(EXPECTED_TEXTS.map(([f]) => f))) {
    const response = await postWhatsApp(testApp.app, fixture(name))
    assert.equal(response.statusCode, 200, name)
    assert.deepEqual(response.json(), { status: 'ok' })
  }
  for (const [name, id, type, text] of EXPECTED_TEXTS) {
    const item = (
      fixtureJson(name) as { entry: { changes: { value: { messages: { id: string }[] } }[] }[] }
    ).entry[0]?.changes[0]?.value.messages.find((m) => m.id === id)
    const stored = await detail(testApp, id)
    assert.deepEqual(
      { ...stored, received_at: typeof stored.received_at },
      {
        message_id: id,
        from: '+16505551234',
        to: '+15550783881',
        ts: '2025-06-08T20:59:43Z',
        text,
        source: 'whatsapp',
        type,
        contact_name: 'Sheena Nelson',
        received_at: 'string',
        payload: item,
      },
      id,
    )
    assert.match(stored.received_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
  }
  const [row] = await testApp.database.query(
    "SELECT phone_number_id FROM messages WHERE message_id = 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQTEXT1'",
  )
  assert.equal(row?.phone_number_id, '106540352242922')
  // GET /messages keeps the contract's five keys for every message, wherever it came from.
  const page = (await get(testApp, '/messages?limit=100')).json()
  assert.equal(page.total, EXPECTED_TEXTS.length)
  for (const item of page.data)
    assert.deepEqual(Object.keys(item), ['message_id', 'from', 'to', 'ts', 'text'])
  assert.equal(
    await metricValue(testApp.app, 'whatsapp_items_total{kind="message",result="created"}'),
    EXPECTED_TEXTS.length,
  )
})

test('the signature is checked over the bytes Meta sent: \\u-escaped non-ASCII and \\/ pass as sent, and a re-serialized body fails', async (t) => {
  const testApp = await whatsappApp(t)
  const raw = fixture('escaped')
  assert.ok(raw.includes('\\u00e1') && raw.includes('\\/'), 'the fixture keeps Meta’s escapes')
  const reserialized = Buffer.from(JSON.stringify(JSON.parse(raw.toString('utf8'))))
  const forged = await postWhatsApp(testApp.app, raw, {
    headers: { 'x-hub-signature-256': signWhatsAppBody(APP_SECRET, reserialized) },
  })
  assert.equal(forged.statusCode, 401)
  assert.deepEqual(forged.json(), { detail: 'invalid signature' })
  assert.equal((await postWhatsApp(testApp.app, raw)).statusCode, 200)
  const stored = await detail(testApp, 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQESC1')
  assert.equal(stored.text, 'Olá! Você tem o tênis 42/43? Ça coûte combien ? 👟')
  assert.equal(stored.contact_name, 'João Gonçalves')
})

const body = Buffer.from(JSON.stringify(envelope({ messages: [textItem({ id: 'wamid.sig' })] })))
const hex = createHmac('sha256', APP_SECRET).update(body).digest('hex')
const BAD_SIGNATURES: [string, Record<string, string>][] = [
  ['missing', {}],
  ['empty', { 'x-hub-signature-256': '' }],
  ['the hex without sha256=', { 'x-hub-signature-256': hex }],
  ['an upper-case prefix', { 'x-hub-signature-256': `SHA256=${hex}` }],
  ['sha1=', { 'x-hub-signature-256': `sha1=${hex}` }],
  ['one digit short', { 'x-hub-signature-256': `sha256=${hex.slice(1)}` }],
  ['one digit long', { 'x-hub-signature-256': `sha256=${hex}0` }],
  ['a non-hex digit', { 'x-hub-signature-256': `sha256=${hex.slice(0, 63)}g` }],
  ['base64', { 'x-hub-signature-256': `sha256=${Buffer.from(hex, 'hex').toString('base64')}` }],
  ['a space after =', { 'x-hub-signature-256': `sha256= ${hex}` }],
  ['another secret', { 'x-hub-signature-256': signWhatsAppBody('another', body) }],
  ['the /webhook header instead', { 'x-signature': hex }],
]
for (const [name, headers] of BAD_SIGNATURES) {
  test(`an X-Hub-Signature-256 that is ${name} answers 401 invalid signature and stores nothing`, async (t) => {
    const testApp = await whatsappApp(t)
    const response = await testApp.app.inject({
      method: 'POST',
      url: '/webhooks/whatsapp',
      payload: body,
      headers: { 'content-type': 'application/json', ...headers },
    })
    assert.equal(response.statusCode, 401)
    assert.deepEqual(response.json(), { detail: 'invalid signature' })
    assert.deepEqual(await testApp.database.rows(), [])
    const line = testApp.accessLines()[0]
    assert.equal(line?.result, 'invalid_signature')
    assert.equal(line?.level, 'error')
    assert.equal(await metricValue(testApp.app, 'whatsapp_requests_total{result="invalid_signature"}'), 1)
  })
}

test('the header is found whatever its case, and upper-case hex passes', async (t) => {
  const testApp = await whatsappApp(t)
  const raw = Buffer.from(JSON.stringify(envelope({ messages: [textItem()] })))
  const upper = `sha256=${createHmac('sha256', APP_SECRET).update(raw).digest('hex').toUpperCase()}`
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/webhooks/whatsapp',
    payload: raw,
    headers: { 'X-HUB-SIGNATURE-256': upper },
  })
  assert.equal(response.statusCode, 200)
})

test('during a rotation the previous app secret is accepted too, and the webhook secret likewise', async (t) => {
  const testApp = await whatsappApp(t, {
    WHATSAPP_APP_SECRET_PREVIOUS: 'old-app-secret',
    WEBHOOK_SECRET_PREVIOUS: 'old-webhook',
  })
  assert.equal(
    (await postWhatsApp(testApp.app, envelope({ messages: [textItem()] }), { secret: 'old-app-secret' }))
      .statusCode,
    200,
  )
  assert.equal((await postWhatsApp(testApp.app, envelope({ messages: [textItem()] }))).statusCode, 200)
  assert.equal(
    (await postWhatsApp(testApp.app, envelope({ messages: [textItem()] }), { secret: 'older' })).statusCode,
    401,
  )
  assert.equal((await postSigned(testApp.app, message(), { secret: 'old-webhook' })).statusCode, 200)
  assert.equal((await postSigned(testApp.app, message(), { secret: 'older' })).statusCode, 401)
  assert.equal((await testApp.database.rows()).length, 3)
})

for (const [name, raw] of [
  ['not JSON', '{"entry": ['],
  ['an array', '[]'],
  ['an object without entry', '{"object":"whatsapp_business_account"}'],
  ['entry that is not an array', '{"entry":{}}'],
  ['empty', ''],
] as const) {
  test(`a signed body that is ${name} answers 422 with loc ["body"]`, async (t) => {
    const testApp = await whatsappApp(t)
    const response = await postWhatsApp(testApp.app, Buffer.from(raw))
    assert.equal(response.statusCode, 422)
    assert.deepEqual(
      response.json().detail.map((d: { loc: string[] }) => d.loc),
      [['body']],
    )
    assert.equal(await metricValue(testApp.app, 'whatsapp_requests_total{result="validation_error"}'), 1)
  })
}

test('one invalid item in a batch: 200, the rest stored, the counter and a log line (position and reason, no content) show it', async (t) => {
  const testApp = await whatsappApp(t)
  const good = [textItem(), textItem()]
  const items = [
    good[0],
    textItem({ from: '+16505551234', text: { body: 'secret words' } }),
    good[1],
    textItem({ timestamp: 'yesterday' }),
    { type: 'text' },
  ]
  const response = await postWhatsApp(testApp.app, envelope({ messages: items as Record<string, unknown>[] }))
  assert.equal(response.statusCode, 200)
  assert.deepEqual(
    (await testApp.database.rows()).map((r) => r.message_id),
    good.map((g) => g.id),
  )
  assert.equal(await metricValue(testApp.app, 'whatsapp_items_total{kind="message",result="invalid"}'), 3)
  const skipped = testApp.logs().find((l) => l.msg === 'whatsapp items skipped: invalid')
  assert.deepEqual(skipped?.skipped, [
    { kind: 'message', entry: 0, change: 0, index: 1, reason: 'from' },
    { kind: 'message', entry: 0, change: 0, index: 3, reason: 'timestamp' },
    { kind: 'message', entry: 0, change: 0, index: 4, reason: 'id' },
  ])
  assert.equal(JSON.stringify(testApp.logs()).includes('secret words'), false)
  const line = testApp.accessLines()[0]
  assert.deepEqual([line?.result, line?.messages, line?.statuses], ['ok', 2, 0])
})

test('a batch of several entries, changes, messages and statuses is stored whole; a change of another field is acknowledged, counted and logged', async (t) => {
  const testApp = await whatsappApp(t)
  const response = await postWhatsApp(testApp.app, fixture('batch'))
  assert.equal(response.statusCode, 200)
  const rows = await testApp.database.rows()
  assert.deepEqual(rows.map((r) => [r.message_id, r.from_msisdn, r.to_msisdn]).sort(), [
    ['wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQBATCH1', '+16505551234', '+15550783881'],
    ['wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQBATCH2', '+4915112345678', '+15550783881'],
    ['wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQBATCH3', '+447700900456', '+447700900123'],
  ])
  assert.equal((await detail(testApp, 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQBATCH2')).contact_name, 'Kai Müller')
  const status = (await get(testApp, '/statuses/wamid.OUT9')).json()
  assert.deepEqual(
    [status.status, status.history.map((h: { status: string }) => h.status)],
    ['read', ['sent', 'delivered', 'read']],
  )
  assert.equal(await metricValue(testApp.app, 'whatsapp_items_total{kind="change",result="ignored"}'), 1)
  assert.ok(testApp.logs().some((l) => l.msg === 'whatsapp changes of other fields acknowledged, not stored'))
  const line = testApp.accessLines()[0]
  assert.deepEqual([line?.result, line?.messages, line?.statuses], ['ok', 3, 3])
})

test('statuses: the current status, its time and the history in forward order; failed keeps its errors', async (t) => {
  const testApp = await whatsappApp(t)
  assert.equal((await postWhatsApp(testApp.app, fixture('statuses'))).statusCode, 200)
  assert.deepEqual((await get(testApp, '/statuses/wamid.OUT1')).json(), {
    message_id: 'wamid.OUT1',
    recipient_id: '16505551234',
    status: 'read',
    updated_at: '2025-06-08T21:01:00Z',
    history: [
      { status: 'sent', ts: '2025-06-08T21:00:00Z', errors: null },
      { status: 'delivered', ts: '2025-06-08T21:00:05Z', errors: null },
      { status: 'read', ts: '2025-06-08T21:01:00Z', errors: null },
    ],
  })
  const failed = (await get(testApp, '/statuses/wamid.OUT2')).json()
  assert.equal(failed.status, 'failed')
  assert.deepEqual(failed.history[0].errors, [
    {
      code: 131026,
      title: 'Message undeliverable',
      message: 'Message undeliverable',
      error_data: { details: 'Message could not be delivered' },
    },
  ])
  const unknown = await get(testApp, '/statuses/wamid.never')
  assert.equal(unknown.statusCode, 404)
  assert.deepEqual(unknown.json(), { detail: 'Not Found' })
  assert.equal(await metricValue(testApp.app, 'whatsapp_items_total{kind="status",result="created"}'), 5)
})

/** Every ordering of `items`. */
function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items]
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  )
}

test('statuses arriving in every order, one per POST or all in one, give the same current status and history; repeats change nothing', async (t) => {
  const testApp = await whatsappApp(t)
  const kinds: [string, string][] = [
    ['sent', '1749416400'],
    ['delivered', '1749416405'],
    ['read', '1749416460'],
  ]
  const withFailed: [string, string][] = [...kinds.slice(0, 2), ['failed', '1749416470']]
  let n = 0
  for (const [set, expected] of [
    [kinds, 'read'],
    [withFailed, 'failed'],
    [[...kinds, ['failed', '1749416470']] as [string, string][], 'failed'],
  ] as const) {
    for (const order of permutations([...set])) {
      n += 1
      const id = `wamid.order-${n}`
      const onePerPost = n % 2 === 0
      if (onePerPost) {
        for (const [status, ts] of order) {
          assert.equal(
            (await postWhatsApp(testApp.app, envelope({ statuses: [statusItem(id, status, ts)] })))
              .statusCode,
            200,
          )
        }
      } else {
        const statuses = order.map(([status, ts]) => statusItem(id, status, ts))
        assert.equal((await postWhatsApp(testApp.app, envelope({ statuses }))).statusCode, 200)
      }
      // Again, all of them: nothing changes.
      await postWhatsApp(
        testApp.app,
        envelope({ statuses: order.map(([status, ts]) => statusItem(id, status, ts)) }),
      )
      const current = (await get(testApp, `/statuses/${id}`)).json()
      const forward = ['sent', 'delivered', 'read', 'played', 'failed']
      const sorted = [...set].sort((a, b) => forward.indexOf(a[0]) - forward.indexOf(b[0]))
      assert.deepEqual(
        current,
        {
          message_id: id,
          recipient_id: '16505551234',
          status: expected,
          updated_at: new Date(Number(set.find(([s]) => s === expected)?.[1]) * 1000)
            .toISOString()
            .replace('.000', ''),
          history: sorted.map(([status, ts]) => ({
            status,
            ts: new Date(Number(ts) * 1000).toISOString().replace('.000', ''),
            errors: null,
          })),
        },
        JSON.stringify(order),
      )
    }
  }
  const statusRows = await testApp.database.query('SELECT COUNT(*) AS n FROM message_statuses')
  assert.equal(Number(statusRows[0]?.n), 6 * 3 + 6 * 3 + 24 * 4)
})

test('a status Inlet does not track is acknowledged and counted as ignored; a malformed one as invalid', async (t) => {
  const testApp = await whatsappApp(t)
  const statuses = [
    statusItem('wamid.x', 'deleted', '1749416400'),
    statusItem('wamid.x', 'sent', 'soon'),
    { status: 'sent', timestamp: '1749416400', recipient_id: '1' },
    statusItem('wamid.x', 'delivered', '1749416401'),
  ]
  assert.equal((await postWhatsApp(testApp.app, envelope({ statuses }))).statusCode, 200)
  assert.equal((await get(testApp, '/statuses/wamid.x')).json().status, 'delivered')
  assert.equal(await metricValue(testApp.app, 'whatsapp_items_total{kind="status",result="ignored"}'), 1)
  assert.equal(await metricValue(testApp.app, 'whatsapp_items_total{kind="status",result="invalid"}'), 2)
})

test('exactly once: the same batch delivered again, later and concurrently, stores each message and status once', async (t) => {
  const testApp = await whatsappApp(t)
  const raw = fixture('batch')
  assert.equal((await postWhatsApp(testApp.app, raw)).statusCode, 200)
  const again = await Promise.all(Array.from({ length: 8 }, () => postWhatsApp(testApp.app, raw)))
  assert.deepEqual(
    again.map((r) => r.statusCode),
    again.map(() => 200),
  )
  assert.equal((await testApp.database.rows()).length, 3)
  const statusRows = await testApp.database.query('SELECT COUNT(*) AS n FROM message_statuses')
  assert.equal(Number(statusRows[0]?.n), 3)
  assert.equal(await metricValue(testApp.app, 'whatsapp_items_total{kind="message",result="created"}'), 3)
  assert.equal(await metricValue(testApp.app, 'whatsapp_items_total{kind="message",result="duplicate"}'), 24)
  assert.equal(await metricValue(testApp.app, 'whatsapp_items_total{kind="status",result="duplicate"}'), 24)
})

test('one key space with /webhook: the first write of a message_id wins, whichever route it came through', async (t) => {
  const testApp = await whatsappApp(t)
  const viaWebhook = message({ message_id: 'wamid.shared-1', text: 'from /webhook' })
  assert.equal((await postSigned(testApp.app, viaWebhook)).statusCode, 200)
  await postWhatsApp(
    testApp.app,
    envelope({ messages: [textItem({ id: 'wamid.shared-1', text: { body: 'from WhatsApp' } })] }),
  )
  await postWhatsApp(
    testApp.app,
    envelope({ messages: [textItem({ id: 'wamid.shared-2', text: { body: 'from WhatsApp' } })] }),
  )
  assert.equal(
    (await postSigned(testApp.app, message({ message_id: 'wamid.shared-2', text: 'from /webhook' })))
      .statusCode,
    200,
  )
  const first = await detail(testApp, 'wamid.shared-1')
  assert.deepEqual(
    [first.text, first.source, first.type, first.payload],
    ['from /webhook', 'webhook', null, null],
  )
  const second = await detail(testApp, 'wamid.shared-2')
  assert.deepEqual([second.text, second.source], ['from WhatsApp', 'whatsapp'])
  assert.equal(
    testApp
      .accessLines()
      .filter((l) => l.path === '/webhook')
      .at(-1)?.result,
    'duplicate',
  )
  assert.equal((await testApp.database.rows()).length, 2)
})

test('GET /messages/{message_id} answers a /webhook message with source webhook and nulls; an unknown id is 404; ids are URL-decoded', async (t) => {
  const testApp = await whatsappApp(t)
  const odd = message({ message_id: 'a/b c?d#é', text: 'odd id' })
  assert.equal((await postSigned(testApp.app, odd)).statusCode, 200)
  const response = await get(testApp, `/messages/${encodeURIComponent('a/b c?d#é')}`)
  assert.equal(response.statusCode, 200)
  const item = response.json()
  assert.deepEqual(
    { ...item, received_at: undefined },
    {
      message_id: 'a/b c?d#é',
      from: odd.from,
      to: odd.to,
      ts: odd.ts,
      text: 'odd id',
      source: 'webhook',
      type: null,
      contact_name: null,
      received_at: undefined,
      payload: null,
    },
  )
  const missing = await get(testApp, '/messages/nope')
  assert.equal(missing.statusCode, 404)
  assert.deepEqual(missing.json(), { detail: 'Not Found' })
  assert.equal((await testApp.app.inject({ method: 'PUT', url: '/messages/nope' })).statusCode, 405)
})

test('GET /statuses lists current statuses in (updated_at, message_id) order with filters, an exact total and a Link cursor', async (t) => {
  const testApp = await whatsappApp(t)
  const statuses = [
    statusItem('wamid.s1', 'read', '1749416500'),
    statusItem('wamid.s2', 'delivered', '1749416400', { recipient_id: '4915112345678' }),
    statusItem('wamid.s3', 'failed', '1749416450'),
    statusItem('wamid.s4', 'delivered', '1749416450'),
    statusItem('wamid.s5', 'sent', '1749416300'),
  ]
  assert.equal((await postWhatsApp(testApp.app, envelope({ statuses }))).statusCode, 200)
  const ids = (page: { data: { message_id: string }[] }) => page.data.map((s) => s.message_id)
  const all = (await get(testApp, '/statuses')).json()
  assert.deepEqual(ids(all), ['wamid.s5', 'wamid.s2', 'wamid.s3', 'wamid.s4', 'wamid.s1'])
  assert.deepEqual([all.total, all.limit, all.offset], [5, 50, 0])
  assert.deepEqual(ids((await get(testApp, '/statuses?status=delivered')).json()), ['wamid.s2', 'wamid.s4'])
  assert.deepEqual(ids((await get(testApp, '/statuses?recipient=+4915112345678')).json()), ['wamid.s2'])
  assert.deepEqual(ids((await get(testApp, '/statuses?since=2025-06-08T21:00:50Z')).json()), [
    'wamid.s3',
    'wamid.s4',
    'wamid.s1',
  ])

  const walked: string[] = []
  let url: string | undefined = '/statuses?limit=2&since=2025-06-08T21:00:00Z'
  while (url !== undefined) {
    const response = await get(testApp, url)
    assert.equal(response.json().total, 4)
    walked.push(...ids(response.json()))
    url = /^<([^>]+)>; rel="next"$/.exec(String(response.headers.link ?? ''))?.[1]
  }
  assert.deepEqual(walked, ['wamid.s2', 'wamid.s3', 'wamid.s4', 'wamid.s1'])

  const bad = await get(testApp, '/statuses?status=lost&limit=0')
  assert.equal(bad.statusCode, 422)
  assert.deepEqual(
    bad.json().detail.map((d: { loc: string[] }) => d.loc),
    [
      ['query', 'limit'],
      ['query', 'status'],
    ],
  )
  const foreignCursor = await get(
    testApp,
    `/statuses?status=read&cursor=${/cursor=([^&>]+)/.exec(String((await get(testApp, '/statuses?limit=1')).headers.link))?.[1]}`,
  )
  assert.equal(foreignCursor.statusCode, 422)
})

test('a 2.5 MB envelope is taken whole; one over WHATSAPP_MAX_BODY_BYTES is 413 while being read; /webhook keeps its own 64 KiB cap', async (t) => {
  const testApp = await whatsappApp(t)
  const messages = Array.from({ length: 1000 }, () => textItem({ text: { body: 'x'.repeat(2500) } }))
  const raw = Buffer.from(JSON.stringify(envelope({ messages })))
  assert.ok(raw.length > 2.5e6 && raw.length < 3_145_728, `${raw.length} bytes`)
  assert.equal((await postWhatsApp(testApp.app, raw)).statusCode, 200)
  assert.equal((await testApp.database.rows()).length, 1000)
  const webhookBody = Buffer.from(JSON.stringify(message({ text: 'x'.repeat(70_000) })))
  assert.equal((await postSigned(testApp.app, webhookBody)).statusCode, 413)

  const capped = await whatsappApp(t, { WHATSAPP_MAX_BODY_BYTES: '4096' })
  const big = Buffer.from(
    JSON.stringify(envelope({ messages: [textItem({ text: { body: 'y'.repeat(5000) } })] })),
  )
  const refused = await postWhatsApp(capped.app, big)
  assert.equal(refused.statusCode, 413)
  assert.deepEqual(refused.json(), { detail: 'payload too large' })
  assert.equal(await metricValue(capped.app, 'whatsapp_requests_total{result="payload_too_large"}'), 1)
  assert.deepEqual(await capped.database.rows(), [])
})

test('with READ_API_TOKEN set, GET /messages/{id} and /statuses need the token; the WhatsApp routes do not', async (t) => {
  const testApp = await whatsappApp(t, { READ_API_TOKEN: 'reader' })
  assert.equal((await postWhatsApp(testApp.app, fixture('statuses'))).statusCode, 200)
  for (const url of ['/messages/x', '/statuses', '/statuses/wamid.OUT1']) {
    assert.equal((await get(testApp, url)).statusCode, 401, url)
    const allowed = await testApp.app.inject({
      method: 'GET',
      url,
      headers: { authorization: 'Bearer reader' },
    })
    assert.notEqual(allowed.statusCode, 401, url)
  }
  assert.equal(
    (
      await get(
        testApp,
        verifyUrl({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '7' }),
      )
    ).statusCode,
    200,
  )
})

test('a storage failure answers 503 so that Meta retries, and stores nothing of the batch', async (t) => {
  const testApp = await whatsappApp(t)
  await testApp.database.execute('DROP TABLE message_statuses')
  const response = await postWhatsApp(testApp.app, fixture('batch'))
  assert.equal(response.statusCode, 503)
  assert.deepEqual(response.json(), { detail: 'storage unavailable' })
  assert.deepEqual(await testApp.database.rows(), [])
  assert.equal(await metricValue(testApp.app, 'whatsapp_requests_total{result="storage_unavailable"}'), 1)
})
