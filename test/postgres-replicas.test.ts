import assert from 'node:assert/strict'
import { test } from 'node:test'
import { signWebhookBody } from '../src/sources/webhook/signature.js'
import { MIGRATIONS } from '../src/storage/postgres/migrations.js'
import { PostgresMessageStore } from '../src/storage/postgres/postgres-store.js'
import { type ServerProcess, startServer, waitForHttp } from './helpers/server-process.js'
import { SECRET } from './helpers/test-app.js'
import { adminQuery, freshSchema, POSTGRES_SKIP_REASON } from './helpers/test-database.js'

const REPLICAS = 3
const DISTINCT = 300
const CONTESTED = 100

async function post(base: string, body: Record<string, unknown>): Promise<number> {
  const raw = JSON.stringify(body)
  const response = await fetch(`${base}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature': signWebhookBody(SECRET, Buffer.from(raw)) },
    body: raw,
  })
  await response.arrayBuffer()
  return response.status
}

async function allPages(base: string): Promise<unknown[]> {
  const items: unknown[] = []
  for (let offset = 0; ; offset += 100) {
    const page = (await (await fetch(`${base}/messages?limit=100&offset=${offset}`)).json()) as {
      data: unknown[]
      total: number
    }
    items.push(...page.data)
    if (offset + 100 >= page.total) return items
  }
}

async function createdCount(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith('webhook_requests_total{result="created"}'))
  return line === undefined ? 0 : Number(line.split(' ').at(-1))
}

test('three replicas on one database store every message exactly once and answer alike', {
  skip: POSTGRES_SKIP_REASON,
  timeout: 120_000,
}, async (t) => {
  const replicas: ServerProcess[] = []
  const { schema, url } = await freshSchema(t, async () => {
    for (const r of replicas) r.child.kill('SIGKILL')
    await Promise.all(replicas.map((r) => r.exited))
  })
  const env = { WEBHOOK_SECRET: SECRET, DATABASE_URL: url, LOG_LEVEL: 'WARNING' }
  // Started together on an empty schema: the migration lock lets exactly one apply it.
  replicas.push(...(await Promise.all(Array.from({ length: REPLICAS }, () => startServer(env)))))
  const bases = replicas.map((r) => `http://127.0.0.1:${r.port}`)
  for (const base of bases) {
    const ready = await waitForHttp(`${base}/health/ready`, 30_000)
    assert.equal(ready.status, 200, await ready.text())
  }

  const message = (id: string, i: number, text: string) => ({
    message_id: id,
    from: `+1555000${i % 7}`,
    to: '+14155550100',
    ts: `2025-03-01T10:${String(i % 60).padStart(2, '0')}:00Z`,
    text,
  })
  // Distinct messages spread over the replicas, and contested ones: the same message_id
  // with a different text sent to every replica at the same moment.
  const sends: Promise<number>[] = []
  for (let i = 0; i < DISTINCT; i++) {
    sends.push(post(bases[i % REPLICAS] as string, message(`d-${i}`, i, `distinct ${i}`)))
  }
  for (let i = 0; i < CONTESTED; i++) {
    for (const [r, base] of bases.entries()) {
      sends.push(post(base, message(`c-${i}`, i, `contested ${i} via replica ${r}`)))
    }
  }
  const statuses = await Promise.all(sends)
  assert.deepEqual(
    statuses.filter((s) => s !== 200),
    [],
  )

  const rows = (
    await adminQuery(
      `SELECT message_id, text, (SELECT count(*) FROM ${schema}.messages) AS n FROM ${schema}.messages ORDER BY message_id`,
    )
  ).rows as { message_id: string; text: string; n: string }[]
  assert.equal(rows.length, DISTINCT + CONTESTED)
  assert.equal(new Set(rows.map((r) => r.message_id)).size, DISTINCT + CONTESTED)
  for (const row of rows) {
    if (row.message_id.startsWith('c-')) {
      // One of the contending writes, whole.
      assert.match(row.text, new RegExp(`^contested ${row.message_id.slice(2)} via replica [0-2]$`))
    }
  }
  // Exactly one delivery of each message was "created", across all replicas.
  const created = await Promise.all(bases.map(createdCount))
  assert.equal(
    created.reduce((a, b) => a + b, 0),
    DISTINCT + CONTESTED,
  )

  const lists = await Promise.all(bases.map(allPages))
  const stats = await Promise.all(bases.map(async (base) => (await fetch(`${base}/stats`)).json()))
  for (let r = 1; r < REPLICAS; r++) {
    assert.deepEqual(lists[r], lists[0])
    assert.deepEqual(stats[r], stats[0])
  }
  assert.equal(lists[0]?.length, DISTINCT + CONTESTED)
  // The sharded counters, written by three replicas at once, equal a recount of the rows.
  const recount = await adminQuery(
    `SELECT from_msisdn AS "from", count(*)::int AS count FROM ${schema}.messages
     GROUP BY from_msisdn ORDER BY count DESC, from_msisdn COLLATE "C" LIMIT 10`,
  )
  assert.deepEqual(stats[0], {
    total_messages: DISTINCT + CONTESTED,
    senders_count: 7,
    messages_per_sender: recount.rows,
    first_message_ts: '2025-03-01T10:00:00Z',
    last_message_ts: '2025-03-01T10:59:00Z',
  })
  // Each migration applied once, though three processes started on an empty schema at once.
  const migrations = await adminQuery(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`)
  assert.deepEqual(
    migrations.rows.map((r) => r.version),
    MIGRATIONS.map((m) => m.version),
  )
})

test('three stores running retention at once on one database delete and count each row once', {
  skip: POSTGRES_SKIP_REASON,
}, async (t) => {
  const { url } = await freshSchema(t)
  const stores = await Promise.all(Array.from({ length: REPLICAS }, () => PostgresMessageStore.open({ url })))
  t.after(() => Promise.all(stores.map((store) => store.close())))
  const [first] = stores as [PostgresMessageStore]
  const messages = Array.from({ length: 3000 }, (_, i) => ({
    message_id: `r-${i}`,
    from: `+${i % 7}`,
    to: '+9',
    ts: i % 3 === 0 ? '2025-06-01T00:00:00Z' : '2020-01-01T00:00:00Z',
    text: `text ${i}`,
  }))
  for (let i = 0; i < messages.length; i += 500) {
    await first.ingest({ messages: messages.slice(i, i + 500), statuses: [] })
  }
  // Each store deletes chunks of 50 until it finds none, all three at the same time.
  const counted = await Promise.all(
    stores.map(async (store) => {
      let deleted = 0
      for (;;) {
        const chunk = await store.delete({ reason: 'retention', beforeKey: '2021-01-01T00:00:00', limit: 50 })
        deleted += chunk
        if (chunk === 0) return deleted
      }
    }),
  )
  assert.equal(
    counted.reduce((a, b) => a + b, 0),
    2000,
  )
  const kept = messages.filter((_, i) => i % 3 === 0)
  const stats = await first.stats()
  assert.equal(stats.total_messages, 1000)
  assert.equal(stats.senders_count, 7)
  const perSender = new Map<string, number>()
  for (const m of kept) perSender.set(m.from, (perSender.get(m.from) ?? 0) + 1)
  assert.deepEqual(
    stats.messages_per_sender,
    [...perSender]
      .map(([from, count]) => ({ from, count }))
      .sort((a, b) => b.count - a.count || (a.from < b.from ? -1 : 1)),
  )
  const deletedEvents = (await first.readEvents(0, 10_000)).filter((e) => e.type === 'message.deleted')
  assert.equal(deletedEvents.length, 2000)
  assert.equal(new Set(deletedEvents.map((e) => (e.data as { message_id: string }).message_id)).size, 2000)
})

test('remembered totals and folded stats stay exact while three stores write at once, and after a deletion', {
  skip: POSTGRES_SKIP_REASON,
}, async (t) => {
  const { url } = await freshSchema(t)
  const stores = await Promise.all(Array.from({ length: REPLICAS }, () => PostgresMessageStore.open({ url })))
  t.after(() => Promise.all(stores.map((store) => store.close())))
  const words = ['order', 'refund', 'hello', 'invoice']
  const queries = [
    { q: 'order' },
    { q: 'refund' },
    { since: '2025-06-15T00:00:00Z' },
    { from: '+2', q: 'hello' },
    { since: '2025-06-10T00:00:00Z', q: 'invoice' },
  ]
  const written: { message_id: string; from: string; to: string; ts: string; text: string }[] = []
  const matches = (m: (typeof written)[number], query: (typeof queries)[number]) =>
    (query.q === undefined || m.text.includes(query.q)) &&
    (!('from' in query) || m.from === query.from) &&
    (!('since' in query) || m.ts >= (query.since as string))
  // Each store writes 40 batches of 25 while it reads every query after each batch, so each
  // remembers totals taken at positions in the middle of the other stores' commits.
  const seen = stores.map(() => queries.map(() => 0))
  // Meanwhile the sender counters are folded again and again (as the background step does).
  let writing = true
  let folds = 0
  const folding = (async () => {
    while (writing) {
      await (stores[0] as PostgresMessageStore).foldCounters()
      folds++
    }
  })()
  await Promise.all(
    stores.map(async (store, s) => {
      for (let batch = 0; batch < 40; batch++) {
        const messages = Array.from({ length: 25 }, (_, i) => {
          const n = (s * 40 + batch) * 25 + i
          return {
            message_id: `c-${s}-${batch}-${i}`,
            from: `+${n % 5}`,
            to: '+9',
            ts: `2025-06-${String(1 + (n % 28)).padStart(2, '0')}T00:00:00Z`,
            text: `${words[n % 4]} ${words[(n >> 2) % 4]} ${n}`,
          }
        })
        await store.ingest({ messages, statuses: [] })
        written.push(...messages)
        for (const [k, query] of queries.entries()) {
          const { total } = await store.list({ limit: 1, offset: 0, ...query })
          // Nothing is deleted yet: a store's totals never go down.
          assert.ok(total >= (seen[s]?.[k] ?? 0), `store ${s}, ${JSON.stringify(query)}: ${total} fell`)
          ;(seen[s] as number[])[k] = total
        }
      }
    }),
  )
  writing = false
  await folding
  assert.ok(folds > 5, `${folds} folds`)
  const expect = () => queries.map((query) => written.filter((m) => matches(m, query)).length)
  const expectStats = () => {
    const perSender = new Map<string, number>()
    for (const m of written) perSender.set(m.from, (perSender.get(m.from) ?? 0) + 1)
    return {
      total: written.length,
      senders: perSender.size,
      top: [...perSender]
        .map(([from, count]) => ({ from, count }))
        .sort((a, b) => b.count - a.count || (a.from < b.from ? -1 : 1)),
    }
  }
  const statsOf = async (store: PostgresMessageStore) => {
    const stats = await store.stats()
    return { total: stats.total_messages, senders: stats.senders_count, top: stats.messages_per_sender }
  }
  /** Every store's stats and five totals equal a recomputation from what was written. */
  const everyStoreAgrees = async () => {
    for (const store of stores) {
      assert.deepEqual(await statsOf(store), expectStats())
      assert.deepEqual(
        await Promise.all(
          queries.map(async (query) => (await store.list({ limit: 1, offset: 0, ...query })).total),
        ),
        expect(),
      )
    }
  }
  await everyStoreAgrees()
  // A deletion on one store: every store's remembered totals are from the epoch before it.
  const erased = await (stores[1] as PostgresMessageStore).delete({
    reason: 'erasure',
    from: '+2',
    limit: 10_000,
  })
  assert.equal(erased, written.filter((m) => m.from === '+2').length)
  written.splice(0, written.length, ...written.filter((m) => m.from !== '+2'))
  await (stores[2] as PostgresMessageStore).ingest({
    messages: [
      { message_id: 'after', from: '+1', to: '+9', ts: '2025-06-20T00:00:00Z', text: 'order refund' },
    ],
    statuses: [],
  })
  written.push({
    message_id: 'after',
    from: '+1',
    to: '+9',
    ts: '2025-06-20T00:00:00Z',
    text: 'order refund',
  })
  await everyStoreAgrees()
  await (stores[0] as PostgresMessageStore).foldCounters()
  await everyStoreAgrees()
})
