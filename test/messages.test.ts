import assert from 'node:assert/strict'
import { test } from 'node:test'
import { matchesQuery } from '../src/domain/text-search.js'
import { timestampSortKey } from '../src/domain/timestamp.js'
import { byteOrder, createTestApp, message, postSigned, type TestApp } from './helpers/test-app.js'

type Item = { message_id: string; from: string; to: string; ts: string; text: string | null }

async function seed(testApp: TestApp, bodies: Record<string, unknown>[]) {
  for (const body of bodies) assert.equal((await postSigned(testApp.app, body)).statusCode, 200)
}

async function list(testApp: TestApp, query: string) {
  const response = await testApp.app.inject({ method: 'GET', url: `/messages${query}` })
  return response
}

test('GET /messages on an empty store answers the empty page with defaults echoed', async (t) => {
  const testApp = await createTestApp(t)
  const response = await list(testApp, '')
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), { data: [], total: 0, limit: 50, offset: 0 })
})

test('each item has exactly message_id, from, to, ts, text (null when absent), values as stored', async (t) => {
  const testApp = await createTestApp(t)
  const withText = message({ message_id: 'a', ts: '2025-01-01T00:00:00.500Z', text: 'hi' })
  const withoutText = message({ message_id: 'b', ts: '2025-01-02T00:00:00Z' })
  delete withoutText.text
  await seed(testApp, [withText, withoutText])
  const body = (await list(testApp, '')).json()
  assert.deepEqual(body.data, [
    { message_id: 'a', from: withText.from, to: withText.to, ts: '2025-01-01T00:00:00.500Z', text: 'hi' },
    { message_id: 'b', from: withoutText.from, to: withoutText.to, ts: '2025-01-02T00:00:00Z', text: null },
  ])
})

test('order is by instant, then message_id in byte order, whatever the arrival order', async (t) => {
  const testApp = await createTestApp(t)
  // Same instant written three ways, fractions that sort differently as text, and
  // message_ids whose UTF-16 order differs from their UTF-8 byte order.
  const bodies = [
    message({ message_id: 'z', ts: '2025-01-01T00:00:01Z' }),
    message({ message_id: 'b', ts: '2025-01-01T00:00:00.5Z' }),
    message({ message_id: 'a', ts: '2025-01-01T00:00:00.50Z' }),
    message({ message_id: '\u{1F600}', ts: '2025-01-01T00:00:00Z' }),
    message({ message_id: '\uFF5E', ts: '2025-01-01T00:00:00.000Z' }),
    message({ message_id: 'c', ts: '2025-01-01T00:00:00Z' }),
    message({ message_id: 'y', ts: '2024-12-31T23:59:59.999Z' }),
    message({ message_id: 'x', ts: '2025-01-01T00:00:00.05Z' }),
  ]
  await seed(testApp, bodies)
  const ids = ((await list(testApp, '')).json().data as Item[]).map((item) => item.message_id)
  assert.deepEqual(ids, ['y', 'c', '\uFF5E', '\u{1F600}', 'x', 'a', 'b', 'z'])
  const expected = [...bodies]
    .sort(
      (p, q) =>
        byteOrder(timestampSortKey(p.ts as string) ?? '', timestampSortKey(q.ts as string) ?? '') ||
        byteOrder(p.message_id as string, q.message_id as string),
    )
    .map((b) => b.message_id)
  assert.deepEqual(ids, expected)
})

test('limit and offset page through the total order; total ignores paging', async (t) => {
  const testApp = await createTestApp(t)
  const bodies = Array.from({ length: 7 }, (_, i) =>
    message({ message_id: `p${i}`, ts: `2025-01-0${1 + (i % 3)}T00:00:00Z` }),
  )
  await seed(testApp, bodies)
  const all = ((await list(testApp, '?limit=100')).json().data as Item[]).map((i) => i.message_id)
  assert.equal(all.length, 7)
  const pages: string[] = []
  for (let offset = 0; offset < 9; offset += 3) {
    const body = (await list(testApp, `?limit=3&offset=${offset}`)).json()
    assert.equal(body.total, 7)
    assert.equal(body.limit, 3)
    assert.equal(body.offset, offset)
    pages.push(...(body.data as Item[]).map((i) => i.message_id))
  }
  assert.deepEqual(pages, all)
  const past = (await list(testApp, '?offset=50')).json()
  assert.deepEqual(past, { data: [], total: 7, limit: 50, offset: 50 })
})

const badPaging: [string, string][] = [
  ['limit=0', 'limit'],
  ['limit=101', 'limit'],
  ['limit=abc', 'limit'],
  ['limit=1.5', 'limit'],
  ['limit=-1', 'limit'],
  ['limit=', 'limit'],
  ['limit=0x10', 'limit'],
  ['limit=1e1', 'limit'],
  ['limit=Infinity', 'limit'],
  ['offset=99999999999999999999', 'offset'],
  ['offset=-1', 'offset'],
  ['offset=1.5', 'offset'],
  ['offset=abc', 'offset'],
  ['since=2025-01-01', 'since'],
  ['since=2025-02-30T00:00:00Z', 'since'],
  ['since=yesterday', 'since'],
]

for (const [query, field] of badPaging) {
  test(`GET /messages?${query} answers 422 with loc ["query","${field}"]`, async (t) => {
    const testApp = await createTestApp(t)
    const response = await list(testApp, `?${query}`)
    assert.equal(response.statusCode, 422)
    const detail = response.json().detail as { loc: unknown[]; msg: string; type: string }[]
    assert.deepEqual(
      detail.map((d) => d.loc),
      [['query', field]],
    )
    assert.ok(detail[0]?.msg && detail[0]?.type)
  })
}

test('every bad query parameter is listed in one 422', async (t) => {
  const testApp = await createTestApp(t)
  const response = await list(testApp, '?limit=0&offset=x&since=nope')
  assert.equal(response.statusCode, 422)
  assert.deepEqual(response.json(), {
    detail: [
      {
        loc: ['query', 'limit'],
        msg: 'Input should be greater than or equal to 1',
        type: 'greater_than_equal',
      },
      {
        loc: ['query', 'offset'],
        msg: 'Input should be a valid integer, unable to parse string as an integer',
        type: 'int_parsing',
      },
      {
        loc: ['query', 'since'],
        msg: 'Input should be a UTC timestamp YYYY-MM-DDTHH:MM:SS[.fraction]Z on a real calendar date',
        type: 'datetime_from_date_parsing',
      },
    ],
  })
})

test('limit 1 and 100 are accepted, signs and leading zeros too; unknown parameters are ignored', async (t) => {
  const testApp = await createTestApp(t)
  assert.equal((await list(testApp, '?limit=1&foo=bar')).json().limit, 1)
  assert.equal((await list(testApp, '?limit=100')).json().limit, 100)
  assert.equal((await list(testApp, '?limit=007&offset=%2B3')).json().limit, 7)
  assert.equal((await list(testApp, '?limit=007&offset=%2B3')).json().offset, 3)
})

test('from matches the sender exactly, and a leading space (an unencoded +) is read as +', async (t) => {
  const testApp = await createTestApp(t)
  await seed(testApp, [
    message({ message_id: 'a', from: '+919876543210' }),
    message({ message_id: 'b', from: '+14155550100' }),
    message({ message_id: 'c', from: '+9198765432101' }),
  ])
  for (const query of ['?from=+919876543210', '?from=%2B919876543210']) {
    const body = (await list(testApp, query)).json()
    assert.deepEqual(
      (body.data as Item[]).map((i) => i.message_id),
      ['a'],
      query,
    )
    assert.equal(body.total, 1)
  }
  assert.equal((await list(testApp, '?from=919876543210')).json().total, 0)
  // A NUL cannot be in a stored sender or text, so such filters match nothing.
  for (const query of ['?from=%2B91%00', '?q=91%00', '?q=%00']) {
    const response = await list(testApp, query)
    assert.equal(response.statusCode, 200, query)
    assert.deepEqual(response.json(), { data: [], total: 0, limit: 50, offset: 0 }, query)
  }
})

test('since keeps messages at or after the instant, comparing instants not text', async (t) => {
  const testApp = await createTestApp(t)
  await seed(testApp, [
    message({ message_id: 'before', ts: '2025-01-01T09:59:59.999Z' }),
    message({ message_id: 'equal', ts: '2025-01-01T10:00:00Z' }),
    message({ message_id: 'equal-fraction', ts: '2025-01-01T10:00:00.000Z' }),
    message({ message_id: 'after', ts: '2025-01-01T10:00:00.001Z' }),
  ])
  for (const since of ['2025-01-01T10:00:00Z', '2025-01-01T10:00:00.0Z']) {
    const body = (await list(testApp, `?since=${since}`)).json()
    assert.deepEqual(
      (body.data as Item[]).map((i) => i.message_id),
      ['equal', 'equal-fraction', 'after'],
    )
    assert.equal(body.total, 3)
  }
})

test('q matches a case-insensitive, Unicode-aware, literal substring of text', async (t) => {
  const testApp = await createTestApp(t)
  const texts: Record<string, string | null> = {
    ecole: 'Une école à Paris',
    upper: 'HELLO WORLD',
    percent: '100% sure',
    underscore: 'snake_case here',
    plain: '100 sure, snakeXcase',
    strasse: 'Große Straße',
    greek: 'ΟΔΟΣ',
    none: null,
    empty: '',
  }
  await seed(
    testApp,
    Object.entries(texts).map(([id, text]) => message({ message_id: id, text })),
  )
  const cases: [string, string[]][] = [
    ['ÉCOLE', ['ecole']],
    ['hello', ['upper']],
    ['World', ['upper']],
    ['%', ['percent']],
    ['0%', ['percent']],
    ['_', ['underscore']],
    ['e_c', ['underscore']],
    ['STRASSE', ['strasse']],
    ['οδος', ['greek']],
    ['σ', ['greek']],
    ['x', ['plain']],
    ['absent-word', []],
  ]
  for (const [q, expected] of cases) {
    const body = (await list(testApp, `?q=${encodeURIComponent(q)}`)).json()
    const ids = (body.data as Item[]).map((i) => i.message_id).sort()
    assert.deepEqual(ids, [...expected].sort(), `q=${q}`)
    assert.equal(body.total, expected.length)
    // The reference semantics agree with what the store answered.
    const reference = Object.entries(texts)
      .filter(([, text]) => matchesQuery(text, q))
      .map(([id]) => id)
      .sort()
    assert.deepEqual(ids, reference, `reference for q=${q}`)
  }
  // An empty q is no filter: messages without text are listed too.
  assert.equal((await list(testApp, '?q=')).json().total, Object.keys(texts).length)
})

test('filters combine with AND and apply before paging', async (t) => {
  const testApp = await createTestApp(t)
  const bodies: Record<string, unknown>[] = []
  for (let i = 0; i < 12; i++) {
    bodies.push(
      message({
        message_id: `f${String(i).padStart(2, '0')}`,
        from: i % 2 === 0 ? '+100' : '+200',
        ts: `2025-03-${String(1 + i).padStart(2, '0')}T00:00:00Z`,
        text: i % 4 === 0 || i === 6 || i === 7 ? 'Alpha report' : 'beta',
      }),
    )
  }
  await seed(testApp, bodies)
  const expected = bodies
    .filter(
      (b) =>
        b.from === '+100' &&
        (b.ts as string) >= '2025-03-03T00:00:00Z' &&
        matchesQuery(b.text as string, 'ALPHA'),
    )
    .map((b) => b.message_id)
  // f00 is before since, f07 is from +200, the rest is not Alpha.
  assert.deepEqual(expected, ['f04', 'f06', 'f08'])
  const paged: string[] = []
  for (let offset = 0; offset < 4; offset += 2) {
    const page = (
      await list(testApp, `?from=%2B100&since=2025-03-03T00:00:00Z&q=ALPHA&limit=2&offset=${offset}`)
    ).json()
    assert.equal(page.total, 3)
    paged.push(...(page.data as Item[]).map((i) => i.message_id))
  }
  assert.deepEqual(paged, expected)
})

test('a repeated query parameter takes its last value', async (t) => {
  const testApp = await createTestApp(t)
  assert.equal((await list(testApp, '?limit=500&limit=5')).json().limit, 5)
})
