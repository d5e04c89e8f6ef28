import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createTestApp, message, metricValue, postSigned, type TestApp } from './helpers/test-app.js'
import { envelope, postWhatsApp, statusItem, textItem, WHATSAPP_ENV } from './helpers/whatsapp.js'

// The event feed (SPEC 2.4): GET /events and GET /events/stream, on the adapter under test.

interface WireEvent {
  id: string
  type: string
  created_at: string
  data: Record<string, unknown>
}
interface EventPage {
  data: WireEvent[]
  next: string
}

const getEvents = async (testApp: TestApp, query: string): Promise<EventPage> => {
  const response = await testApp.app.inject({ method: 'GET', url: `/events?${query}` })
  assert.equal(response.statusCode, 200, response.body)
  return response.json() as EventPage
}

/** Follows the feed from `after` with small pages until a page comes back empty. */
async function follow(testApp: TestApp, after: string | undefined, limit: number) {
  const events: WireEvent[] = []
  let cursor = after
  for (;;) {
    const page = await getEvents(testApp, `limit=${limit}${cursor === undefined ? '' : `&after=${cursor}`}`)
    events.push(...page.data)
    if (page.data.length === 0) return { events, next: page.next }
    assert.equal(page.next, page.data.at(-1)?.id)
    cursor = page.next
  }
}

test('every stored message is one message.created event, in commit order, whatever its ts; duplicates add none', async (t) => {
  const testApp = await createTestApp(t)
  // Concurrent writers: 60 webhooks at once, a third of them repeats, ts descending.
  const bodies = Array.from({ length: 40 }, (_, i) =>
    message({ ts: `2025-01-15T10:${String(59 - i).padStart(2, '0')}:00Z`, text: `n${i}` }),
  )
  const sends = [...bodies, ...bodies.slice(0, 20)].map((body) => postSigned(testApp.app, body))
  const responses = await Promise.all(sends)
  const created = responses.filter((r) => r.json().status === 'ok' && r.statusCode === 200)
  assert.equal(created.length, 60)

  const { events, next } = await follow(testApp, undefined, 7)
  assert.equal(events.length, 40, 'one event per stored message, none for a duplicate')
  assert.deepEqual(new Set(events.map((e) => e.data.message_id)), new Set(bodies.map((b) => b.message_id)))
  const ids = events.map((e) => Number(e.id))
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
    'ids rise in commit order',
  )
  assert.equal(new Set(ids).size, ids.length)
  assert.equal(next, events.at(-1)?.id)
  for (const event of events) {
    assert.equal(event.type, 'message.created')
    assert.match(event.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  }
  // The data is the message as GET /messages/{id} shows it.
  const first = events[0] as WireEvent
  const detail = await testApp.app.inject({ method: 'GET', url: `/messages/${first.data.message_id}` })
  assert.deepEqual(first.data, detail.json())

  // A later message lands after the cursor handed out, even with the earliest ts of all.
  await postSigned(testApp.app, message({ ts: '2000-01-01T00:00:00Z' }))
  const later = await follow(testApp, next, 7)
  assert.equal(later.events.length, 1)
  assert.equal(later.events[0]?.data.ts, '2000-01-01T00:00:00Z')
})

test('a status that moves the current status is a status.updated event with the history up to it; a late lower one is none', async (t) => {
  const testApp = await createTestApp(t, { env: WHATSAPP_ENV })
  const item = textItem()
  const id = item.id as string
  assert.equal((await postWhatsApp(testApp.app, envelope({ messages: [item] }))).statusCode, 200)
  await postWhatsApp(
    testApp.app,
    envelope({ statuses: [statusItem('wamid.out-1', 'delivered', '1749416400')] }),
  )
  await postWhatsApp(testApp.app, envelope({ statuses: [statusItem('wamid.out-1', 'sent', '1749416390')] }))
  await postWhatsApp(testApp.app, envelope({ statuses: [statusItem('wamid.out-1', 'read', '1749416500')] }))
  await postWhatsApp(testApp.app, envelope({ statuses: [statusItem('wamid.out-1', 'read', '1749416500')] }))

  const { events } = await follow(testApp, undefined, 2)
  assert.deepEqual(
    events.map((e) => [e.type, e.data.message_id, e.data.status ?? null]),
    [
      ['message.created', id, null],
      ['status.updated', 'wamid.out-1', 'delivered'],
      ['status.updated', 'wamid.out-1', 'read'],
    ],
  )
  assert.deepEqual(events[1]?.data, {
    message_id: 'wamid.out-1',
    recipient_id: '16505551234',
    status: 'delivered',
    updated_at: '2025-06-08T21:00:00Z',
    // Read now, the late `sent` is in the history: it ranks below `delivered`.
    history: [
      { status: 'sent', ts: '2025-06-08T20:59:50Z', errors: null },
      { status: 'delivered', ts: '2025-06-08T21:00:00Z', errors: null },
    ],
  })
  const current = await testApp.app.inject({ method: 'GET', url: '/statuses/wamid.out-1' })
  assert.deepEqual(events[2]?.data, current.json())
})

test('the feed resumes after a restart from the cursor a consumer kept', async (t) => {
  const first = await createTestApp(t)
  for (let i = 0; i < 5; i++) await postSigned(first.app, message())
  const { next } = await follow(first, undefined, 3)
  await first.close()

  const second = await createTestApp(t, { database: first.database })
  const fresh = [message(), message()]
  for (const body of fresh) await postSigned(second.app, body)
  const resumed = await follow(second, next, 3)
  assert.deepEqual(
    resumed.events.map((e) => e.data.message_id),
    fresh.map((b) => b.message_id),
  )
})

test('a long-poll is answered by the commit that stores the next message', async (t) => {
  const testApp = await createTestApp(t)
  await postSigned(testApp.app, message())
  const { next } = await getEvents(testApp, '')
  const body = message()
  const waiting = getEvents(testApp, `after=${next}&wait=30`)
  setTimeout(() => void postSigned(testApp.app, body), 100)
  const page = await waiting
  assert.deepEqual(
    page.data.map((e) => e.data.message_id),
    [body.message_id],
  )
  assert.equal(page.next, page.data[0]?.id)
})

test('a long-poll with nothing new answers an empty page after wait seconds, keeping the cursor', async (t) => {
  const testApp = await createTestApp(t)
  await postSigned(testApp.app, message())
  const head = await getEvents(testApp, '')
  assert.deepEqual(await getEvents(testApp, `after=${head.next}&wait=1`), { data: [], next: head.next })
  // An empty feed: next is the beginning.
  const empty = await createTestApp(t)
  assert.deepEqual(await getEvents(empty, 'wait=0'), { data: [], next: '0' })
})

test("after=end starts after the feed's last event: an empty page with its position, a long-poll for the next", async (t) => {
  const testApp = await createTestApp(t)
  const empty = await getEvents(testApp, 'after=end')
  assert.deepEqual(empty, { data: [], next: '0' })
  for (const body of [message(), message()]) await postSigned(testApp.app, body)
  const all = await getEvents(testApp, '')
  assert.deepEqual(await getEvents(testApp, 'after=end'), { data: [], next: all.next })
  const body = message()
  const waiting = getEvents(testApp, 'after=end&wait=30')
  setTimeout(() => void postSigned(testApp.app, body), 100)
  const page = await waiting
  assert.deepEqual(
    page.data.map((e) => e.data.message_id),
    [body.message_id],
  )
  assert.equal(Number(page.next), Number(all.next) + 1)

  // The stream from the end: only what is committed after it connected.
  await testApp.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = testApp.app.server.address() as { port: number }
  const stream = await openStream(`http://127.0.0.1:${port}`, {}, '?after=end')
  for (let i = 0; i < 100 && (await metricValue(testApp.app, 'events_stream_clients')) !== 1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const live = message()
  await postSigned(testApp.app, live)
  let first: Record<string, string> | undefined
  while (first === undefined) [first] = (await stream.next(1)).filter((b) => b.comment === undefined)
  assert.equal(JSON.parse(first.data as string).data.message_id, live.message_id)
  stream.close()
})

test('bad feed parameters are 422 in the FastAPI shape', async (t) => {
  const testApp = await createTestApp(t)
  for (const [query, field] of [
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['wait=31', 'wait'],
    ['wait=-1', 'wait'],
    ['after=abc', 'after'],
    ['after=-1', 'after'],
  ] as const) {
    const response = await testApp.app.inject({ method: 'GET', url: `/events?${query}` })
    assert.equal(response.statusCode, 422, query)
    assert.deepEqual(response.json().detail[0].loc, ['query', field], query)
  }
  const stream = await testApp.app.inject({ method: 'GET', url: '/events/stream?after=x' })
  assert.equal(stream.statusCode, 422)
  const post = await testApp.app.inject({ method: 'POST', url: '/events' })
  assert.equal(post.statusCode, 405)
})

test('the feed sits behind READ_API_TOKEN', async (t) => {
  const testApp = await createTestApp(t, { env: { READ_API_TOKEN: 'reader' } })
  for (const url of ['/events', '/events/stream', '/deliveries']) {
    const refused = await testApp.app.inject({ method: 'GET', url })
    assert.equal(refused.statusCode, 401, url)
    assert.deepEqual(refused.json(), { detail: 'unauthorized' })
  }
  const allowed = await testApp.app.inject({
    method: 'GET',
    url: '/events',
    headers: { authorization: 'Bearer reader' },
  })
  assert.equal(allowed.statusCode, 200)
})

/** Reads Server-Sent Events from a real socket. */
async function openStream(base: string, headers: Record<string, string> = {}, query = '') {
  const controller = new AbortController()
  const response = await fetch(`${base}/events/stream${query}`, { headers, signal: controller.signal })
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  return {
    response,
    /** Blocks (fields split in lines) until `count` have arrived; comments come as { comment }. */
    async next(count: number) {
      const blocks: Record<string, string>[] = []
      while (blocks.length < count) {
        const end = buffer.indexOf('\n\n')
        if (end === -1) {
          const chunk = await reader.read()
          if (chunk.done) throw new Error('stream ended')
          buffer += decoder.decode(chunk.value, { stream: true })
          continue
        }
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const fields: Record<string, string> = {}
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) fields.comment = line.slice(1).trim()
          else {
            const colon = line.indexOf(':')
            fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart()
          }
        }
        blocks.push(fields)
      }
      return blocks
    },
    close: () => controller.abort(),
  }
}

test('the stream sends each event with id, event and data, resumes after Last-Event-ID, and sends heartbeats', async (t) => {
  const testApp = await createTestApp(t, { env: { EVENTS_HEARTBEAT_MS: '200' } })
  const bodies = [message(), message(), message()]
  for (const body of bodies) await postSigned(testApp.app, body)
  const all = await getEvents(testApp, '')
  await testApp.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = testApp.app.server.address() as { port: number }
  const base = `http://127.0.0.1:${port}`

  const resumed = await openStream(base, { 'last-event-id': all.data[0]?.id as string })
  assert.equal(resumed.response.status, 200)
  assert.equal(resumed.response.headers.get('content-type'), 'text/event-stream')
  const events = (await resumed.next(2)).filter((b) => b.comment === undefined)
  const second = all.data[1] as WireEvent
  const third = all.data[2] as WireEvent
  assert.deepEqual(
    events.map((e) => [e.id, e.event, JSON.parse(e.data as string)]),
    [
      [second.id, 'message.created', second],
      [third.id, 'message.created', third],
    ],
  )
  assert.equal(await metricValue(testApp.app, 'events_stream_clients'), 1)
  // Live: a message stored now arrives on the open stream.
  const live = message()
  await postSigned(testApp.app, live)
  let arrived: Record<string, string> | undefined
  let heartbeat = false
  while (arrived === undefined || !heartbeat) {
    const [block] = await resumed.next(1)
    if (block?.comment === 'heartbeat') heartbeat = true
    else if (block?.event !== undefined) arrived = block
  }
  assert.equal(JSON.parse(arrived.data as string).data.message_id, live.message_id)
  resumed.close()
  for (let i = 0; i < 100 && (await metricValue(testApp.app, 'events_stream_clients')) !== 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  assert.equal(await metricValue(testApp.app, 'events_stream_clients'), 0)

  // ?after= when no Last-Event-ID is sent.
  const fromQuery = await fetch(`${base}/events/stream?after=${third.id}`, {
    signal: AbortSignal.timeout(60_000),
  })
  const reader = (fromQuery.body as ReadableStream<Uint8Array>).getReader()
  let text = ''
  while (!text.includes('\n\n') || text.startsWith(':')) {
    text += new TextDecoder().decode((await reader.read()).value)
    if (text.startsWith(': heartbeat\n\n')) text = text.slice(': heartbeat\n\n'.length)
  }
  assert.match(text, new RegExp(`^id: ${Number(third.id) + 1}\nevent: message.created\n`))
  await reader.cancel()
})

test('closing the app ends open streams, so a shutdown does not wait for their clients', {
  timeout: 30_000,
}, async (t) => {
  const testApp = await createTestApp(t)
  await testApp.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = testApp.app.server.address() as { port: number }
  const response = await fetch(`http://127.0.0.1:${port}/events/stream`)
  assert.equal(response.status, 200)
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  // app.close() waits for open connections: it returns only because it ended the stream.
  await testApp.close()
  for (;;) {
    const chunk = await reader.read()
    if (chunk.done) break
  }
})

test('admin endpoints: 403 while ADMIN_TOKEN is unset, 401 for a wrong token, 409 for a retry while forwarding is off', async (t) => {
  const off = await createTestApp(t)
  const disabled = await off.app.inject({ method: 'POST', url: '/deliveries/1/retry' })
  assert.equal(disabled.statusCode, 403)
  assert.deepEqual(disabled.json(), { detail: 'admin API disabled' })

  const on = await createTestApp(t, { env: { ADMIN_TOKEN: 'admin-token' } })
  const wrong = await on.app.inject({
    method: 'POST',
    url: '/deliveries/1/retry',
    headers: { authorization: 'Bearer nope' },
  })
  assert.equal(wrong.statusCode, 401)
  assert.deepEqual(wrong.json(), { detail: 'unauthorized' })
  const unknown = await on.app.inject({
    method: 'POST',
    url: '/deliveries/1/retry',
    headers: { authorization: 'Bearer admin-token' },
  })
  // The forwarder makes every write to deliveries: without FORWARD_URL there is none to retry.
  assert.equal(unknown.statusCode, 409)
  assert.deepEqual(unknown.json(), { detail: 'forwarding is off (FORWARD_URL is not set)' })
})
