import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { matchesQuery } from '../src/domain/text-search.js'
import { timestampSortKey } from '../src/domain/timestamp.js'
import { encodeCursor } from '../src/http/cursor.js'
import { contractOrder as order } from './helpers/reference.js'
import { createTestApp, message, postSigned, type TestApp } from './helpers/test-app.js'

type Item = { message_id: string; from: string; ts: string; text: string | null }

async function seed(testApp: TestApp, bodies: Record<string, unknown>[]) {
  for (const body of bodies) assert.equal((await postSigned(testApp.app, body)).statusCode, 200)
}

/** Follows Link rel="next" from `start` to the end; returns every page's ids. */
async function walk(testApp: TestApp, start: string, between?: (page: number) => Promise<void>) {
  const pages: string[][] = []
  let url: string | undefined = start
  while (url !== undefined) {
    const response: LightMyRequestResponse = await testApp.app.inject({ method: 'GET', url })
    assert.equal(response.statusCode, 200, response.body)
    const body = response.json()
    assert.deepEqual(Object.keys(body), ['data', 'total', 'limit', 'offset'])
    pages.push((body.data as Item[]).map((i) => i.message_id))
    const link = response.headers.link as string | undefined
    url = link === undefined ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)?.[1]
    if (link !== undefined) assert.ok(url, `a Link header in RFC 8288 form: ${link}`)
    await between?.(pages.length)
  }
  return pages
}

function bodies(count: number, prefix = 'c'): Record<string, unknown>[] {
  // Three instants written several ways and ids in mixed scripts: many ties.
  const stamps = [
    '2025-05-01T00:00:00Z',
    '2025-05-01T00:00:00.000Z',
    '2025-05-01T00:00:00.5Z',
    '2025-05-02T00:00:00Z',
  ]
  const ids = ['a', 'B', 'é', '\u{1F600}', '\uFF5E']
  return Array.from({ length: count }, (_, i) =>
    message({
      message_id: `${ids[i % ids.length]}${prefix}${i}`,
      from: i % 3 === 0 ? '+111' : '+222',
      ts: stamps[(i * 7) % stamps.length],
      text: i % 2 === 0 ? 'Alpha news' : 'beta',
    }),
  )
}

test('following Link rel="next" visits every message exactly once, in order, and stops', async (t) => {
  const testApp = await createTestApp(t)
  const sent = bodies(50)
  await seed(testApp, sent)
  const pages = await walk(testApp, '/messages?limit=7')
  assert.deepEqual(
    pages.map((p) => p.length),
    [7, 7, 7, 7, 7, 7, 7, 1],
  )
  const expected = [...(sent as Item[])].sort(order).map((m) => m.message_id)
  assert.deepEqual(pages.flat(), expected)
})

test('a page that ends exactly at the last row has no Link header', async (t) => {
  const testApp = await createTestApp(t)
  await seed(testApp, bodies(6))
  const response = await testApp.app.inject({ method: 'GET', url: '/messages?limit=6' })
  assert.equal(response.headers.link, undefined)
  assert.equal(
    (await testApp.app.inject({ method: 'GET', url: '/messages?limit=5' })).headers.link !== undefined,
    true,
  )
})

test('cursor walks keep the filters, and total counts every match', async (t) => {
  const testApp = await createTestApp(t)
  const sent = bodies(60)
  await seed(testApp, sent)
  const expected = (sent as Item[])
    .filter(
      (m) =>
        m.from === '+111' &&
        (timestampSortKey(m.ts) ?? '') >= '2025-05-01T00:00:00.5' &&
        matchesQuery(m.text, 'ALPHA'),
    )
    .sort(order)
    .map((m) => m.message_id)
  assert.ok(expected.length > 3)
  const start = '/messages?limit=2&from=+111&since=2025-05-01T00:00:00.5Z&q=ALPHA'
  const first = (await testApp.app.inject({ method: 'GET', url: start })).json()
  assert.equal(first.total, expected.length)
  assert.deepEqual((await walk(testApp, start)).flat(), expected)
})

test('a cursor walk while new messages arrive visits each old message once, in order', async (t) => {
  const testApp = await createTestApp(t)
  const sent = bodies(30)
  await seed(testApp, sent)
  let added = 0
  const pages = await walk(testApp, '/messages?limit=4', async () => {
    // One message sorting before everything (already passed) and one after everything.
    added += 1
    await seed(testApp, [
      message({ message_id: `early-${added}`, ts: '2024-01-01T00:00:00Z' }),
      message({ message_id: `late-${added}`, ts: '2026-01-01T00:00:00Z' }),
    ])
  })
  const visited = pages.flat()
  assert.equal(new Set(visited).size, visited.length, 'nothing visited twice')
  const old = [...(sent as Item[])].sort(order).map((m) => m.message_id)
  assert.deepEqual(
    visited.filter((id) => !id.startsWith('early-') && !id.startsWith('late-')),
    old,
  )
  assert.equal(
    visited.some((id) => id.startsWith('early-')),
    false,
    'rows before the position are not revisited',
  )
  assert.ok(
    visited.some((id) => id.startsWith('late-')),
    'rows after the position are seen',
  )
})

test('offset pages offer a cursor Link too, and a cursor combines with offset', async (t) => {
  const testApp = await createTestApp(t)
  const sent = bodies(20)
  await seed(testApp, sent)
  const expected = [...(sent as Item[])].sort(order).map((m) => m.message_id)
  const page = await testApp.app.inject({ method: 'GET', url: '/messages?limit=5&offset=5' })
  assert.deepEqual(
    (page.json().data as Item[]).map((i) => i.message_id),
    expected.slice(5, 10),
  )
  const next = /^<([^>]+)>/.exec(page.headers.link as string)?.[1] as string
  const after = (await testApp.app.inject({ method: 'GET', url: `${next}&offset=2` })).json()
  assert.deepEqual(
    (after.data as Item[]).map((i) => i.message_id),
    expected.slice(12, 17),
  )
  assert.equal(after.offset, 2)
})

test('a malformed cursor, or one made for other filters, answers 422 naming ["query","cursor"]', async (t) => {
  const testApp = await createTestApp(t)
  await seed(testApp, bodies(10))
  const link = (await testApp.app.inject({ method: 'GET', url: '/messages?limit=2&from=%2B111' })).headers
    .link as string
  const cursor = new URL(`http://x${/^<([^>]+)>/.exec(link)?.[1]}`).searchParams.get('cursor') as string
  assert.equal(
    (await testApp.app.inject({ method: 'GET', url: `/messages?from=%2B111&cursor=${cursor}` })).statusCode,
    200,
  )
  for (const query of [
    `from=%2B222&cursor=${cursor}`,
    `cursor=${cursor}`,
    'cursor=not-a-cursor',
    `cursor=${Buffer.from('{"a":1}').toString('base64url')}`,
    // Well formed and for these filters, but with a NUL no stored message can hold.
    `cursor=${encodeCursor({ key: '2025-01-15T10:00:00', messageId: 'm\u0000' }, [undefined, undefined, undefined])}`,
  ]) {
    const response = await testApp.app.inject({ method: 'GET', url: `/messages?${query}` })
    assert.equal(response.statusCode, 422, query)
    assert.deepEqual(response.json(), {
      detail: [
        {
          loc: ['query', 'cursor'],
          msg: 'Cursor is malformed or was made for other filters',
          type: 'value_error',
        },
      ],
    })
  }
})

test('a sender filter (with and without since) pages through the sender index in order, right after the writes', async (t) => {
  const testApp = await createTestApp(t)
  const sent = bodies(40)
  await seed(testApp, sent)
  for (const [query, since] of [
    ['from=%2B111', ''],
    ['from=%2B222&since=2025-05-01T00:00:00.5Z', '2025-05-01T00:00:00.5'],
  ] as const) {
    const sender = query.startsWith('from=%2B111') ? '+111' : '+222'
    const expected = (sent as Item[])
      .filter((m) => m.from === sender && (timestampSortKey(m.ts) ?? '') >= since)
      .sort(order)
      .map((m) => m.message_id)
    const first = (await testApp.app.inject({ method: 'GET', url: `/messages?limit=3&${query}` })).json()
    assert.equal(first.total, expected.length, query)
    assert.deepEqual((await walk(testApp, `/messages?limit=3&${query}`)).flat(), expected, query)
    const paged = (
      await testApp.app.inject({ method: 'GET', url: `/messages?limit=4&offset=2&${query}` })
    ).json()
    assert.deepEqual(
      (paged.data as Item[]).map((i) => i.message_id),
      expected.slice(2, 6),
    )
  }
  assert.deepEqual((await testApp.app.inject({ method: 'GET', url: '/messages?from=%2B999' })).json(), {
    data: [],
    total: 0,
    limit: 50,
    offset: 0,
  })
})
