// The console's own logic, run in Node: its URL state, paging windows, formatting, chart
// axes, the live filter (the stores' rules), and the SSE client's reconnect against a real
// HTTP server that drops, refuses and falls silent.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { test } from 'node:test'
import { labelIndexes, linePoints, niceTicks, pathOf } from '../console/src/charts/scale.js'
import { type FeedEvent, FeedStream, retryDelay, type StreamState } from '../console/src/feed-stream.js'
import {
  bucketLabel,
  countOf,
  inputFromSince,
  preview,
  readableTs,
  sinceFromInput,
} from '../console/src/format.js'
import { compareMessages, matchesFilters } from '../console/src/live-filter.js'
import { newestWindow, nextCursor } from '../console/src/paging.js'
import { NO_FILTERS, normalizeSender, parseRoute, type Route, routeHref } from '../console/src/routes.js'
import { byteOrder } from './helpers/test-app.js'

test('routes: every view and filter survives the trip through the URL, defaults stay out of it', () => {
  const routes: [Route, string][] = [
    [{ view: 'inbox', filters: NO_FILTERS, messageId: null }, '/console'],
    [
      {
        view: 'inbox',
        filters: { q: 'a&b c', from: '+4915', since: '2026-01-01T00:00:00Z', order: 'oldest' },
        messageId: null,
      },
      '/console?q=a%26b+c&from=%2B4915&since=2026-01-01T00%3A00%3A00Z&order=oldest',
    ],
    [
      { view: 'inbox', filters: { ...NO_FILTERS, q: 'x' }, messageId: 'wamid.A/B?=' },
      '/console/messages/wamid.A%2FB%3F%3D?q=x',
    ],
    [{ view: 'stats', bucket: 'day' }, '/console/stats'],
    [{ view: 'stats', bucket: 'hour' }, '/console/stats?bucket=hour'],
    [{ view: 'deliveries', status: 'pending' }, '/console/deliveries'],
    [{ view: 'deliveries', status: 'failed' }, '/console/deliveries?status=failed'],
  ]
  for (const [route, href] of routes) {
    assert.equal(routeHref(route), href)
    const url = new URL(href, 'http://x')
    assert.deepEqual(parseRoute(url.pathname, url.search), route, href)
  }
  // Unknown values fall back to the defaults; an undecodable id is no id; `/console/` is the inbox.
  assert.deepEqual(parseRoute('/console/stats', '?bucket=week'), { view: 'stats', bucket: 'day' })
  assert.deepEqual(parseRoute('/console/deliveries', '?status=x'), { view: 'deliveries', status: 'pending' })
  assert.deepEqual(parseRoute('/console/messages/%E0%A4%A', ''), {
    view: 'inbox',
    filters: NO_FILTERS,
    messageId: null,
  })
  assert.deepEqual(parseRoute('/console/', '?order=up'), {
    view: 'inbox',
    filters: NO_FILTERS,
    messageId: null,
  })
  // A `+` the query string decoded to a space is the sender's `+`, as GET /messages reads it.
  assert.deepEqual(parseRoute('/console', '?from=+4915'), {
    view: 'inbox',
    filters: { ...NO_FILTERS, from: '+4915' },
    messageId: null,
  })
  assert.equal(normalizeSender(' 4915'), '+4915')
  assert.equal(normalizeSender('  +4915 '), '+4915')
  assert.equal(normalizeSender(' alice'), 'alice')
})

test('paging: newest-first windows count back from the pinned total; the Link cursor is read from the header', () => {
  assert.deepEqual(newestWindow(120, 0, 50), { offset: 70, limit: 50 })
  assert.deepEqual(newestWindow(120, 50, 50), { offset: 20, limit: 50 })
  assert.deepEqual(newestWindow(120, 100, 50), { offset: 0, limit: 20 })
  assert.equal(newestWindow(120, 120, 50), null)
  assert.equal(newestWindow(0, 0, 50), null)
  assert.deepEqual(newestWindow(3, 0, 50), { offset: 0, limit: 3 })
  // Windows tile the list exactly: every position once.
  const seen: number[] = []
  for (
    let loaded = 0, w = newestWindow(233, 0, 50);
    w !== null;
    loaded += w.limit, w = newestWindow(233, loaded, 50)
  ) {
    for (let i = w.offset + w.limit - 1; i >= w.offset; i--) seen.push(i)
  }
  assert.deepEqual(
    seen,
    Array.from({ length: 233 }, (_, i) => 232 - i),
  )

  assert.equal(nextCursor('</messages?limit=50&q=a&cursor=eyJhIjoxfQ>; rel="next"'), 'eyJhIjoxfQ')
  assert.equal(nextCursor(null), null)
  assert.equal(nextCursor('</messages?limit=50>; rel="prev"'), null)
})

test('format: counts, previews, readable times, and the since box in both directions', () => {
  assert.equal(countOf(1, 'message'), '1 message')
  assert.equal(countOf(1234567, 'message'), '1,234,567 messages')
  assert.equal(countOf(0, 'message'), '0 messages')
  assert.equal(preview(null), '(no text)')
  assert.equal(preview(' \n\t '), '(blank)')
  assert.equal(preview('a\n\nb   c'), 'a b c')
  assert.equal(preview('👍'.repeat(10), 5), '👍👍👍👍…')
  assert.equal(readableTs('2026-11-30T12:00:05Z'), '2026-11-30 12:00:05 UTC')
  assert.equal(readableTs('2026-11-30T12:00:05.250Z'), '2026-11-30 12:00:05.250 UTC')
  assert.equal(readableTs('not a time'), 'not a time')
  assert.equal(sinceFromInput('2026-11-30T12:00'), '2026-11-30T12:00:00Z')
  assert.equal(sinceFromInput('2026-11-30T12:00:07'), '2026-11-30T12:00:07Z')
  assert.equal(sinceFromInput('2026-02-30T12:00'), '')
  assert.equal(sinceFromInput(''), '')
  assert.equal(inputFromSince('2026-11-30T12:00:07.5Z'), '2026-11-30T12:00:07')
  assert.equal(inputFromSince('yesterday'), '')
  assert.equal(bucketLabel('2026-11-30T00:00:00Z', 'day'), 'Nov 30')
  assert.equal(bucketLabel('2026-11-30T14:00:00Z', 'hour'), 'Nov 30 14:00')
})

test('chart axes: whole-number ticks of 1, 2 or 5 × 10^k that cover the maximum; points fill the box', () => {
  assert.deepEqual(niceTicks(0), [0, 1])
  assert.deepEqual(niceTicks(1), [0, 1])
  assert.deepEqual(niceTicks(3), [0, 1, 2, 3])
  assert.deepEqual(niceTicks(7), [0, 2, 4, 6, 8])
  assert.deepEqual(niceTicks(10), [0, 5, 10])
  assert.deepEqual(niceTicks(1234), [0, 500, 1000, 1500])
  assert.deepEqual(niceTicks(1_000_000), [0, 500_000, 1_000_000])
  const box = { left: 10, top: 0, width: 100, height: 50 }
  assert.deepEqual(linePoints([0, 5, 10], box, 10), [
    { x: 10, y: 50 },
    { x: 60, y: 25 },
    { x: 110, y: 0 },
  ])
  assert.deepEqual(linePoints([4], box, 8), [{ x: 60, y: 25 }])
  assert.equal(
    pathOf([
      { x: 1, y: 2 },
      { x: 3.25, y: 4 },
    ]),
    'M1.0 2.0 L3.3 4.0',
  )
  assert.deepEqual(labelIndexes(4), [0, 1, 2, 3])
  assert.deepEqual(labelIndexes(30), [0, 6, 12, 18, 24, 29])
  assert.deepEqual(labelIndexes(48), [0, 10, 20, 30, 40, 47])
  assert.deepEqual(labelIndexes(12), [0, 3, 6, 9, 11])
})

test('live filter: the same rules as GET /messages; the order is the contract order', () => {
  const m = { message_id: 'a', from: '+49', to: '+1', ts: '2026-01-01T10:00:00.5Z', text: 'Grüße aus KÖLN' }
  assert.equal(matchesFilters(m, NO_FILTERS), true)
  assert.equal(matchesFilters(m, { ...NO_FILTERS, q: 'köln' }), true)
  assert.equal(matchesFilters(m, { ...NO_FILTERS, q: 'GRÜSSE' }), true) // ß folds to ss, as the stores fold it
  assert.equal(matchesFilters(m, { ...NO_FILTERS, q: 'berlin' }), false)
  assert.equal(matchesFilters({ ...m, text: null }, { ...NO_FILTERS, q: 'a' }), false)
  assert.equal(matchesFilters(m, { ...NO_FILTERS, from: '+49' }), true)
  assert.equal(matchesFilters(m, { ...NO_FILTERS, from: '+4' }), false)
  assert.equal(matchesFilters(m, { ...NO_FILTERS, since: '2026-01-01T10:00:00.5Z' }), true)
  assert.equal(matchesFilters(m, { ...NO_FILTERS, since: '2026-01-01T10:00:00.50Z' }), true)
  assert.equal(matchesFilters(m, { ...NO_FILTERS, since: '2026-01-01T10:00:01Z' }), false)
  const ids = ['b', 'a', 'é', 'z', 'B']
  const rows = ids.map((id) => ({ ...m, message_id: id }))
  assert.deepEqual(
    rows.sort(compareMessages).map((r) => r.message_id),
    [...ids].sort(byteOrder),
  )
  assert.ok(compareMessages({ ...m, ts: '2026-01-01T10:00:00Z' }, { ...m, ts: '2026-01-01T10:00:00.1Z' }) < 0)
})

test('the stream retries after 0.5 s, doubling up to 15 s', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 20].map(retryDelay),
    [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000],
  )
})

/** A real SSE server whose every connection is handled by the next of `handlers`. */
async function sseServer(
  t: { after(fn: () => unknown): void },
  handlers: ((request: IncomingMessage, response: ServerResponse) => void)[],
) {
  const requests: IncomingMessage[] = []
  const server = createServer((request, response) => {
    requests.push(request)
    const handler = handlers[requests.length - 1]
    if (handler === undefined) {
      response.writeHead(503)
      response.end()
      return
    }
    handler(request, response)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}/events/stream`, requests }
}

const open = (response: ServerResponse) => response.writeHead(200, { 'content-type': 'text/event-stream' })
const frame = (id: number, type = 'message.created') =>
  `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify({ id: String(id), type, created_at: 'x', data: { message_id: `m${id}` } })}\n\n`

function collect(options: { url: string; after: string; token?: string | null; silenceMs?: number }) {
  const events: FeedEvent[] = []
  const states: StreamState[] = []
  const waiters: (() => void)[] = []
  const stream = new FeedStream({
    url: options.url,
    after: options.after,
    token: () => options.token ?? null,
    onEvent: (event) => {
      events.push(event)
      for (const wake of waiters.splice(0)) wake()
    },
    onState: (state) => {
      states.push(state)
      for (const wake of waiters.splice(0)) wake()
    },
    retryDelayMs: () => 20,
    silenceMs: options.silenceMs ?? 10_000,
  })
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise<void>((resolve) => waiters.push(resolve))
  }
  return { stream, events, states, until }
}

test('the stream sends the token and Last-Event-ID, and after a drop resumes after the last event it delivered', async (t) => {
  const server = await sseServer(t, [
    (_request, response) => {
      open(response)
      response.write(': heartbeat\n\n')
      response.write(frame(5))
      response.write(frame(6, 'message.deleted'))
      setTimeout(() => response.destroy(), 20) // the connection drops
    },
    (_request, response) => {
      open(response)
      response.write(frame(7))
    },
  ])
  const live = collect({ url: server.url, after: '4', token: 'read-token' })
  await live.until(() => live.events.length === 3)
  live.stream.stop()
  await live.stream.done
  assert.deepEqual(
    live.events.map((e) => [e.id, e.type, (e.data as { message_id: string }).message_id]),
    [
      ['5', 'message.created', 'm5'],
      ['6', 'message.deleted', 'm6'],
      ['7', 'message.created', 'm7'],
    ],
  )
  assert.deepEqual(
    server.requests.map((r) => [r.headers['last-event-id'], r.headers.authorization, r.headers.accept]),
    [
      ['4', 'Bearer read-token', 'text/event-stream'],
      ['6', 'Bearer read-token', 'text/event-stream'],
    ],
  )
  assert.deepEqual(live.states, ['connecting', 'live', 'retrying', 'retrying', 'live', 'stopped'])
  assert.equal(live.stream.position, '7')
})

test('the stream retries a refusal other than 401, gives up on a 401, and reconnects when it falls silent', async (t) => {
  const server = await sseServer(t, [
    (_request, response) => {
      response.writeHead(503, { 'content-type': 'application/json' })
      response.end('{"detail":"storage unavailable"}')
    },
    (_request, response) => {
      open(response) // then nothing, not even a heartbeat
      response.flushHeaders()
    },
    (_request, response) => {
      open(response)
      response.write(frame(1))
    },
    (_request, response) => {
      response.writeHead(401, { 'content-type': 'application/json' })
      response.end('{"detail":"unauthorized"}')
    },
  ])
  const live = collect({ url: server.url, after: '0', silenceMs: 150 })
  await live.until(() => live.events.length === 1)
  // The third connection is open and silent too: it is dropped, and the fourth answers 401.
  await live.until(() => live.states.at(-1) === 'unauthorized')
  await live.stream.done
  assert.equal(server.requests.length, 4)
  assert.deepEqual(
    server.requests.map((r) => r.headers['last-event-id']),
    ['0', '0', '0', '1'],
  )
  assert.equal(server.requests[0]?.headers.authorization, undefined)
  assert.deepEqual(live.states, [
    'connecting',
    'retrying',
    'retrying',
    'live',
    'retrying',
    'retrying',
    'live',
    'retrying',
    'retrying',
    'unauthorized',
  ])
})

test("the stream waits what the server's retry: field says before reconnecting, not its own delay", {
  timeout: 10_000,
}, async (t) => {
  const server = await sseServer(t, [
    (_request, response) => {
      open(response)
      response.write('retry: 20\n\n')
      response.write(frame(1))
      setTimeout(() => response.destroy(), 20)
    },
    (_request, response) => {
      open(response)
      response.write(frame(2))
    },
  ])
  const events: string[] = []
  let resolveSecond: () => void = () => {}
  const second = new Promise<void>((resolve) => {
    resolveSecond = resolve
  })
  const stream = new FeedStream({
    url: server.url,
    after: '0',
    token: () => null,
    onEvent: (event) => {
      events.push(event.id)
      if (event.id === '2') resolveSecond()
    },
    onState: () => {},
    // Its own delay would be a minute: the test only ends in time if the server's 20 ms is used.
    retryDelayMs: () => 60_000,
  })
  await second
  stream.stop()
  await stream.done
  assert.deepEqual(events, ['1', '2'])
  assert.equal(server.requests[1]?.headers['last-event-id'], '1')
})
