import assert from 'node:assert/strict'
import { test } from 'node:test'
import { seededRandom } from '../bench/lib/seeded-random.js'
import { loadConfig } from '../src/config.js'
import { RetentionJob } from '../src/lifecycle/deletions.js'
import type { Message, MessageQuery } from '../src/storage/message-store.js'
import { PostgresMessageStore } from '../src/storage/postgres/postgres-store.js'
import { FORWARD_SECRET, startReceiver } from './helpers/receiver.js'
import { contractOrder, expectedStats, referencePage } from './helpers/reference.js'
import { createTestApp, message, metricValue, postSigned, type TestApp } from './helpers/test-app.js'
import { envelope, postWhatsApp, textItem, WHATSAPP_ENV } from './helpers/whatsapp.js'

// Data lifecycle (SPEC 2.6), on the adapter under test: deletions by id, erasures by
// sender, retention, tombstones, and every answer exact after them.

const ADMIN = { authorization: 'Bearer admin-token' }
const ENV = { ADMIN_TOKEN: 'admin-token', ...WHATSAPP_ENV }

type FeedItem = { id: string; type: string; data: Record<string, unknown> }

async function readFeed(
  testApp: TestApp,
  after: string | undefined,
): Promise<{ events: FeedItem[]; next: string }> {
  const events: FeedItem[] = []
  let cursor = after
  for (;;) {
    const url = `/events?limit=1000${cursor === undefined ? '' : `&after=${cursor}`}`
    const page = (await testApp.app.inject({ method: 'GET', url })).json() as {
      data: FeedItem[]
      next: string
    }
    events.push(...page.data)
    if (page.data.length === 0) return { events, next: page.next }
    cursor = page.next
  }
}

const deleteOne = (testApp: TestApp, id: string) =>
  testApp.app.inject({ method: 'DELETE', url: `/messages/${encodeURIComponent(id)}`, headers: ADMIN })

const erase = (testApp: TestApp, from: string) =>
  testApp.app.inject({ method: 'DELETE', url: `/messages?from=${encodeURIComponent(from)}`, headers: ADMIN })

test('DELETE /messages/{id} answers 204 then 404; the message is gone from every answer, and a retry of it is a duplicate', async (t) => {
  const testApp = await createTestApp(t, { env: ENV })
  const { app } = testApp
  const kept = message({ from: '+1', ts: '2025-01-01T00:00:00Z', text: 'kept words' })
  const gone = message({ from: '+2', ts: '2025-01-02T00:00:00Z', text: 'secret words' })
  for (const body of [kept, gone]) assert.equal((await postSigned(app, body)).statusCode, 200)
  const { next: before } = await readFeed(testApp, undefined)

  const first = await deleteOne(testApp, gone.message_id as string)
  assert.equal(first.statusCode, 204)
  assert.equal(first.body, '')
  assert.equal((await deleteOne(testApp, gone.message_id as string)).statusCode, 404)
  assert.equal((await deleteOne(testApp, 'never-stored')).statusCode, 404)
  assert.equal((await app.inject({ method: 'GET', url: `/messages/${gone.message_id}` })).statusCode, 404)
  assert.deepEqual((await app.inject({ method: 'GET', url: '/stats' })).json(), {
    total_messages: 1,
    senders_count: 1,
    messages_per_sender: [{ from: '+1', count: 1 }],
    first_message_ts: '2025-01-01T00:00:00Z',
    last_message_ts: '2025-01-01T00:00:00Z',
  })
  const search = (await app.inject({ method: 'GET', url: '/messages?q=words' })).json()
  assert.deepEqual(
    { total: search.total, ids: search.data.map((m: Message) => m.message_id) },
    { total: 1, ids: [kept.message_id] },
  )

  // The feed: a message.deleted event, and the earlier message.created event has lost its content.
  const all = await readFeed(testApp, undefined)
  const created = all.events.find(
    (e) => e.type === 'message.created' && e.data.message_id === gone.message_id,
  )
  assert.deepEqual(created?.data, { message_id: gone.message_id })
  const after = await readFeed(testApp, before)
  assert.deepEqual(
    after.events.map((e) => [e.type, e.data]),
    [['message.deleted', { message_id: gone.message_id, reason: 'single' }]],
  )

  // Redelivered through /webhook: acknowledged, not stored, counted as a duplicate.
  const duplicates = await metricValue(app, 'webhook_requests_total{result="duplicate"}')
  const again = await postSigned(app, gone)
  assert.equal(again.statusCode, 200)
  assert.equal(again.headers['x-inlet-result'], 'duplicate')
  assert.equal(await metricValue(app, 'webhook_requests_total{result="duplicate"}'), duplicates + 1)
  assert.equal((await app.inject({ method: 'GET', url: `/messages/${gone.message_id}` })).statusCode, 404)
  assert.equal((await app.inject({ method: 'GET', url: '/stats' })).json().total_messages, 1)
  assert.equal((await readFeed(testApp, after.next)).events.length, 0)
  assert.equal(await metricValue(app, 'messages_deleted_total{reason="single"}'), 1)
  const line = testApp.logs().find((l) => l.msg === 'message deletion' && l.deleted === 1)
  assert.ok(line, 'one log line with the count')
  assert.equal(line.request_id, first.headers['x-request-id'])
  assert.ok(!JSON.stringify(line).includes('secret'), 'never the content')
})

test('a WhatsApp message deleted, then redelivered by Meta, is acknowledged, not stored, and counted as a duplicate', async (t) => {
  const testApp = await createTestApp(t, { env: ENV })
  const { app } = testApp
  const item = textItem()
  assert.equal((await postWhatsApp(app, envelope({ messages: [item] }))).statusCode, 200)
  assert.equal((await deleteOne(testApp, item.id as string)).statusCode, 204)
  const series = 'whatsapp_items_total{kind="message",result="duplicate"}'
  const before = await metricValue(app, series)
  const again = await postWhatsApp(app, envelope({ messages: [item] }))
  assert.equal(again.statusCode, 200)
  assert.equal(await metricValue(app, series), before + 1)
  assert.equal((await app.inject({ method: 'GET', url: `/messages/${item.id}` })).statusCode, 404)
  assert.equal((await app.inject({ method: 'GET', url: '/stats' })).json().total_messages, 0)

  // Tombstones are forgotten after TOMBSTONE_DAYS: then the message_id is new again.
  assert.equal(await testApp.store.pruneTombstones(new Date(Date.now() + 86_400_000)), 1)
  assert.equal((await postWhatsApp(app, envelope({ messages: [item] }))).statusCode, 200)
  assert.equal((await app.inject({ method: 'GET', url: `/messages/${item.id}` })).statusCode, 200)
})

test("DELETE /messages?from= erases one sender's messages and answers how many; admin only; from is required", async (t) => {
  const testApp = await createTestApp(t, { env: ENV })
  const { app } = testApp
  const bodies = [
    ...Array.from({ length: 1203 }, (_, i) => message({ from: '+4477', text: `erase me ${i}` })),
    message({ from: '+1', text: 'stays' }),
  ]
  for (let i = 0; i < bodies.length; i += 100) {
    await Promise.all(bodies.slice(i, i + 100).map((body) => postSigned(app, body)))
  }
  assert.equal((await app.inject({ method: 'DELETE', url: '/messages?from=%2B4477' })).statusCode, 401)
  const missing = await app.inject({ method: 'DELETE', url: '/messages', headers: ADMIN })
  assert.equal(missing.statusCode, 422)
  const erased = await erase(testApp, '+4477')
  assert.equal(erased.statusCode, 200)
  assert.deepEqual(erased.json(), { deleted: 1203 })
  assert.deepEqual((await erase(testApp, '+4477')).json(), { deleted: 0 })
  const stats = (await app.inject({ method: 'GET', url: '/stats' })).json()
  assert.equal(stats.total_messages, 1)
  assert.equal(stats.senders_count, 1)
  const bySender = (await app.inject({ method: 'GET', url: '/messages?from=%2B4477' })).json()
  assert.deepEqual([bySender.total, bySender.data], [0, []])
  const search = (await app.inject({ method: 'GET', url: '/messages?q=erase%20me' })).json()
  assert.deepEqual([search.total, search.data], [0, []])
  assert.equal(await metricValue(app, 'messages_deleted_total{reason="erasure"}'), 1203)
  const lines = testApp.logs().filter((l) => l.msg === 'erasure')
  assert.deepEqual(
    lines.map((l) => l.deleted),
    [1203, 0],
  )
  assert.ok(!JSON.stringify(lines).includes('4477'), "the log names neither content nor the sender's number")
  const deleted = (await readFeed(testApp, undefined)).events.filter((e) => e.type === 'message.deleted')
  assert.equal(deleted.length, 1203)
  assert.ok(deleted.every((e) => e.data.reason === 'erasure'))
})

test('a cursor whose row was deleted resumes at the next row in order; offsets count only what remains', async (t) => {
  const testApp = await createTestApp(t, { env: ENV })
  const { app } = testApp
  const bodies = Array.from({ length: 9 }, (_, i) =>
    message({ message_id: `k${i}`, ts: `2025-03-0${i + 1}T00:00:00Z` }),
  )
  for (const body of bodies) await postSigned(app, body)
  const first = await app.inject({ method: 'GET', url: '/messages?limit=3' })
  assert.deepEqual(
    first.json().data.map((m: Message) => m.message_id),
    ['k0', 'k1', 'k2'],
  )
  const next = (/<([^>]+)>/.exec(first.headers.link as string) as RegExpExecArray)[1] as string
  // The cursor's own row and the one after it go.
  for (const id of ['k2', 'k3']) assert.equal((await deleteOne(testApp, id)).statusCode, 204)
  const second = (await app.inject({ method: 'GET', url: next })).json()
  assert.deepEqual(
    second.data.map((m: Message) => m.message_id),
    ['k4', 'k5', 'k6'],
  )
  assert.equal(second.total, 7)
  const byOffset = (await app.inject({ method: 'GET', url: '/messages?limit=3&offset=3' })).json()
  assert.deepEqual(
    byOffset.data.map((m: Message) => m.message_id),
    ['k5', 'k6', 'k7'],
  )
})

test('the admin deletions answer 403 while ADMIN_TOKEN is unset', async (t) => {
  const { app } = await createTestApp(t)
  assert.equal((await app.inject({ method: 'DELETE', url: '/messages/x' })).statusCode, 403)
  assert.equal((await app.inject({ method: 'DELETE', url: '/messages?from=%2B1' })).statusCode, 403)
})

test('a message.deleted event is forwarded, signed, so downstream copies can be erased too', async (t) => {
  const receiver = await startReceiver(t)
  const testApp = await createTestApp(t, {
    env: { ...ENV, FORWARD_URL: receiver.url, FORWARD_SECRET, FORWARD_RETRY_SCHEDULE: '0' },
  })
  const body = message()
  await postSigned(testApp.app, body)
  assert.equal((await deleteOne(testApp, body.message_id as string)).statusCode, 204)
  await receiver.until((received) => received.some((r) => r.body.includes('message.deleted')))
  const forwarded = receiver.received.find((r) => r.body.includes('message.deleted'))
  assert.ok(forwarded)
  assert.deepEqual((forwarded.verified as { type: string; data: unknown }).data, {
    message_id: body.message_id,
    reason: 'single',
  })
})

test('RETENTION_DAYS: the background job deletes old messages in chunks while new ones are acknowledged and kept', async (t) => {
  const first = await createTestApp(t, { env: ENV })
  const old = Array.from({ length: 2500 }, (_, i) =>
    message({
      from: `+${i % 7}`,
      ts: `2020-01-01T00:00:${String(i % 60).padStart(2, '0')}Z`,
      text: 'old text',
    }),
  )
  for (let i = 0; i < old.length; i += 250) {
    await Promise.all(old.slice(i, i + 250).map((body) => postSigned(first.app, body)))
  }
  await first.close()

  // The job starts with the app; webhooks keep arriving while it deletes.
  const testApp = await createTestApp(t, {
    database: first.database,
    env: { ...ENV, RETENTION_DAYS: '30', RETENTION_CHUNK_ROWS: '100', RETENTION_PAUSE_MS: '1' },
  })
  const { app } = testApp
  const fresh = Array.from({ length: 300 }, () => message({ ts: new Date().toISOString(), text: 'new text' }))
  const answers = []
  for (let i = 0; i < fresh.length; i += 10) {
    answers.push(...(await Promise.all(fresh.slice(i, i + 10).map((body) => postSigned(app, body)))))
  }
  assert.ok(answers.every((a) => a.statusCode === 200 && a.headers['x-inlet-result'] === 'created'))
  // The run's log line comes once it has found nothing more to delete.
  for (let i = 0; !testApp.logs().some((l) => l.msg === 'retention run'); i++) {
    if (i > 600) throw new Error('retention never finished')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.equal(await metricValue(app, 'messages_deleted_total{reason="retention"}'), 2500)
  const stats = (await app.inject({ method: 'GET', url: '/stats' })).json()
  assert.equal(stats.total_messages, 300)
  assert.equal(stats.senders_count, 1)
  const page = (await app.inject({ method: 'GET', url: '/messages?limit=100&q=text' })).json()
  assert.equal(page.total, 300)
  assert.ok(page.data.every((m: Message) => m.text === 'new text'))
  const line = testApp.logs().find((l) => l.msg === 'retention run')
  assert.equal(line?.deleted, 2500)
  // Retention leaves no tombstones: the messages are past the cutoff anyway.
  assert.equal(await testApp.store.pruneTombstones(new Date(Date.now() + 86_400_000)), 0)
})

// The property test: random inserts, duplicates, redeliveries of deleted ids, single
// deletes, erasures and retention runs; after each step every answer equals a
// recomputation from the rows that remain.

const SENDERS = ['+10', '+11', '+12', '+13']
const WORDS = ['apple pie', 'Apple tart', 'banana', 'cherry apple', 'date']
const QUERIES: Omit<MessageQuery, 'limit' | 'offset'>[] = [
  {},
  { from: '+11' },
  { q: 'apple' },
  { q: 'APP' },
  { q: 'an' },
  { from: '+12', q: 'apple' },
  { since: '2025-01-05T00:00:00Z' },
  { since: '2025-01-03T00:00:00Z', q: 'apple' },
  { from: '+10', since: '2025-01-04T00:00:00Z' },
]

const queryString = (q: Omit<MessageQuery, 'limit' | 'offset'>) =>
  new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)])).toString()

async function checkEverything(
  testApp: TestApp,
  remaining: Map<string, Message>,
  step: string,
): Promise<void> {
  const { app } = testApp
  const rows = [...remaining.values()]
  assert.deepEqual((await app.inject({ method: 'GET', url: '/stats' })).json(), expectedStats(rows), step)
  for (const filters of QUERIES) {
    const qs = queryString(filters)
    // A page by offset, and the whole answer by cursor.
    const offset = Math.min(3, rows.length)
    const byOffset = (
      await app.inject({ method: 'GET', url: `/messages?limit=4&offset=${offset}&${qs}` })
    ).json()
    const expected = referencePage(rows, { ...filters, limit: 4, offset })
    assert.deepEqual(
      { total: byOffset.total, ids: byOffset.data.map((m: Message) => m.message_id) },
      expected,
      `${step} ${qs}`,
    )
    const all = referencePage(rows, { ...filters, limit: 1e9, offset: 0 })
    const walked: string[] = []
    let url = `/messages?limit=7&${qs}`
    for (;;) {
      const response = await app.inject({ method: 'GET', url })
      walked.push(...response.json().data.map((m: Message) => m.message_id))
      const link = response.headers.link as string | undefined
      if (link === undefined) break
      url = (/<([^>]+)>/.exec(link) as RegExpExecArray)[1] as string
    }
    assert.deepEqual(walked, all.ids, `${step} cursor ${qs}`)
    const exported = (await app.inject({ method: 'GET', url: `/export?format=ndjson&${qs}` })).body
    assert.deepEqual(
      exported
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l).message_id),
      all.ids,
      `${step} export ${qs}`,
    )
  }
}

for (const seed of [11, 12, 13]) {
  test(`after random inserts, duplicates, deletes, erasures and retention runs every answer equals a recomputation (seed ${seed})`, async (t) => {
    const testApp = await createTestApp(t, { env: ENV })
    const { app, store } = testApp
    const next = seededRandom(seed)
    const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)] as T
    const remaining = new Map<string, Message>()
    const tombstoned = new Set<string>()
    const everStored = new Map<string, Message>()
    let created = 0
    let feed: string | undefined
    const noop = { countDeleted: () => {} }
    const quiet = { info: () => {}, error: () => {} }
    for (let step = 0; step < 36; step++) {
      const roll = next()
      const expectedEvents: string[] = []
      let label: string
      if (roll < 0.45 || remaining.size < 5) {
        label = 'insert'
        const batch: Message[] = []
        for (let i = 0, n = 1 + Math.floor(next() * 25); i < n; i++) {
          const r = next()
          if (r < 0.15 && everStored.size > 0)
            batch.push(pick([...everStored.values()])) // a duplicate or a redelivery
          else {
            created += 1
            batch.push({
              message_id: `s${seed}-${created}`,
              from: pick(SENDERS),
              to: '+1',
              ts: `2025-01-0${1 + Math.floor(next() * 8)}T00:00:0${Math.floor(next() * 3)}Z`,
              text: next() < 0.15 ? null : `${pick(WORDS)} ${created}`,
            })
          }
        }
        const answers = await Promise.all(batch.map((m) => postSigned(app, m)))
        assert.ok(answers.every((a) => a.statusCode === 200))
        for (const m of batch) {
          if (remaining.has(m.message_id) || tombstoned.has(m.message_id)) continue
          remaining.set(m.message_id, m)
          everStored.set(m.message_id, m)
          expectedEvents.push(`message.created ${m.message_id}`)
        }
      } else if (roll < 0.7) {
        label = 'single'
        const id = pick([...remaining.keys()])
        assert.equal((await deleteOne(testApp, id)).statusCode, 204)
        remaining.delete(id)
        tombstoned.add(id)
        expectedEvents.push(`message.deleted ${id} single`)
      } else if (roll < 0.85) {
        label = 'erasure'
        const from = pick(SENDERS)
        const ids = [...remaining.values()].filter((m) => m.from === from).map((m) => m.message_id)
        assert.deepEqual((await erase(testApp, from)).json(), { deleted: ids.length })
        for (const id of ids) {
          remaining.delete(id)
          tombstoned.add(id)
          expectedEvents.push(`message.deleted ${id} erasure`)
        }
      } else {
        label = 'retention'
        // The cutoff falls between two days of the messages' range; chunks of 3 rows.
        const day = 2 + Math.floor(next() * 6)
        const cutoff = `2025-01-0${day}T00:00:00Z`
        const config = { ...loadConfig({}).lifecycle, retentionDays: 10, chunkRows: 3, pauseMs: 0 }
        const clock = () => new Date(Date.parse(cutoff) + 10 * 86_400_000)
        const job = new RetentionJob(store, config, noop, quiet, clock)
        const old = [...remaining.values()].filter(
          (m) => contractOrder(m, { ts: cutoff, message_id: '' }) < 0,
        )
        assert.equal((await job.runOnce()).messages, old.length)
        for (const m of old) {
          remaining.delete(m.message_id)
          expectedEvents.push(`message.deleted ${m.message_id} retention`)
        }
      }
      // Now and then give the background indexes time to catch up, so that deletions meet
      // indexed rows as well as rows not yet indexed.
      if (next() < 0.3) await new Promise((resolve) => setTimeout(resolve, 60))
      // PostgreSQL: now and then fold the sender counters, so /stats adds up folded totals and
      // counters written since, with deletions on either side of a fold.
      if (store instanceof PostgresMessageStore && next() < 0.5) await store.foldCounters()
      await checkEverything(testApp, remaining, `step ${step} (${label})`)
      const { events, next: head } = await readFeed(testApp, feed)
      feed = head
      const seen = events.map((e) =>
        e.type === 'message.deleted'
          ? `${e.type} ${e.data.message_id} ${e.data.reason}`
          : `${e.type} ${e.data.message_id}`,
      )
      assert.deepEqual(seen.sort(), expectedEvents.sort(), `step ${step} (${label}) feed`)
    }
    // Every message.created event of the whole feed: the message as stored, or only its id once deleted.
    const { events } = await readFeed(testApp, undefined)
    for (const event of events.filter((e) => e.type === 'message.created')) {
      const id = event.data.message_id as string
      const kept = remaining.get(id)
      if (kept === undefined) assert.deepEqual(event.data, { message_id: id })
      else assert.equal(event.data.text, kept.text)
    }
  })
}
