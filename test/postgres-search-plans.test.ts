import assert from 'node:assert/strict'
import { test } from 'node:test'
import { queryOnce } from '../bench/lib/postgres.js'
import { seededRandom } from '../bench/lib/seeded-random.js'
import { timestampSortKey } from '../src/domain/timestamp.js'
import type { Message, MessageQuery } from '../src/storage/message-store.js'
import type { PageSource } from '../src/storage/postgres/list-sql.js'
import { PostgresMessageStore } from '../src/storage/postgres/postgres-store.js'
import { referencePage } from './helpers/reference.js'
import { freshSchema, POSTGRES_SKIP_REASON } from './helpers/test-database.js'

// The search plans of the PostgreSQL adapter (list-sql.ts) turn on sizes measured at a million
// messages; with them made small, a few hundred messages reach every plan, first requests and
// remembered ones, with cursors, offsets, writes and deletions in between, and every answer
// must be the one JavaScript computes.

const WORDS = ['order', 'order', 'order', 'refund', 'Refund', 'chargeback', 'hello', 'ok', 'ünïcode']
const QUERIES = ['order', 'ORDER', 'refund', 'chargeback', 'ünï', 'absent', 'e', 'or', 'der ref', '%', 'o_d']
const SENDERS = ['+1', '+1', '+1', '+1', '+2', '+2', '+3', '+4', '+5']
const INSTANTS = [
  '2025-01-01T00:00:00Z',
  '2025-01-02T00:00:00Z',
  '2025-01-02T12:00:00Z',
  '2025-01-03T00:00:00Z',
]

function messagesOf(next: () => number, round: number, count: number): Message[] {
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)] as T
  return Array.from({ length: count }, (_, i) => {
    const words = Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(WORDS))
    const day = 1 + Math.floor(next() * 3)
    return {
      message_id: `m${round}-${i}`,
      from: pick(SENDERS),
      to: '+9',
      // Few instants: many ties, which message_id orders.
      ts: `2025-01-0${day}T${pick(['00', '06', '12'])}:00:00Z`,
      text: next() < 0.1 ? null : `${words.join(' ')}${next() < 0.3 ? ' 100% o_d' : ''}`,
    }
  })
}

function randomQuery(next: () => number): MessageQuery {
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)] as T
  const query: MessageQuery = { q: pick(QUERIES), limit: 1 + Math.floor(next() * 12), offset: 0 }
  if (next() < 0.4) query.from = pick([...SENDERS, '+404'])
  if (next() < 0.4) query.since = pick(INSTANTS)
  if (next() < 0.3) query.offset = Math.floor(next() * 60)
  return query
}

for (const seed of [1, 2, 3]) {
  test(`every search plan answers exactly what JavaScript computes (seed ${seed})`, {
    skip: POSTGRES_SKIP_REASON,
  }, async (t) => {
    let store: PostgresMessageStore | undefined
    const { url } = await freshSchema(t, () => store?.close())
    const used = new Map<PageSource['kind'], number>()
    store = await PostgresMessageStore.open({
      url,
      planSizes: { walkRows: 40, fewRows: 30, keptRows: 15 },
      planned: (kind) => used.set(kind, (used.get(kind) ?? 0) + 1),
    })
    const next = seededRandom(seed)
    let stored: Message[] = []
    const check = async (query: MessageQuery, context: string) => {
      const s = store as PostgresMessageStore
      const page = await s.list(query)
      assert.deepEqual(
        { total: page.total, ids: page.data.map((m) => m.message_id) },
        referencePage(stored, query),
        `${context}: ${JSON.stringify(query)}`,
      )
      // The page after this one through the cursor is the reference's next rows.
      if (page.next !== undefined) {
        const after = await s.list({ ...query, offset: 0, after: page.next })
        const expected = referencePage(stored, { ...query, offset: query.offset + query.limit })
        assert.deepEqual(
          { total: after.total, ids: after.data.map((m) => m.message_id) },
          expected,
          `${context}, next page: ${JSON.stringify(query)}`,
        )
      }
    }
    const queries: MessageQuery[] = []
    for (let round = 0; round < 4; round++) {
      const batch = messagesOf(next, round, 120)
      await store.ingest({ messages: batch, statuses: [] })
      stored.push(...batch)
      // New queries (first requests) and earlier ones again (remembered, now with more rows).
      for (let i = 0; i < 25; i++) queries.push(randomQuery(next))
      for (const query of queries) await check(query, `round ${round}`)
      // A deletion of each kind between rounds: remembered counts must count again.
      if (round === 1) {
        const victim = stored[Math.floor(next() * stored.length)] as Message
        assert.equal(await store.delete({ reason: 'single', messageId: victim.message_id }), 1)
        stored = stored.filter((m) => m.message_id !== victim.message_id)
      } else if (round === 2) {
        while ((await store.delete({ reason: 'erasure', from: '+3', limit: 7 })) > 0) {}
        stored = stored.filter((m) => m.from !== '+3')
      } else if (round === 3) {
        const beforeKey = timestampSortKey('2025-01-01T12:00:00Z') as string
        await store.delete({ reason: 'retention', beforeKey, limit: 10_000 })
        stored = stored.filter((m) => (timestampSortKey(m.ts) as string) >= beforeKey)
      }
      for (const query of queries) await check(query, `after the deletion of round ${round}`)
    }
    // Not vacuous: every way of reading a page answered some of the queries.
    assert.deepEqual(
      [...used.keys()].sort(),
      ['kept', 'matches', 'rows', 'seqs', 'walk'],
      JSON.stringify(Object.fromEntries(used)),
    )
  })
}

test('a database from before message_texts gets its texts on upgrade, however short the request timeout', {
  skip: POSTGRES_SKIP_REASON,
}, async (t) => {
  let store: PostgresMessageStore | undefined
  const { url } = await freshSchema(t, () => store?.close())
  store = await PostgresMessageStore.open({ url })
  const messages = messagesOf(seededRandom(7), 0, 200)
  await store.ingest({ messages, statuses: [] })
  await store.close()
  // Back to version 7: the trigram index on messages, no message_texts.
  await queryOnce(
    url,
    `DROP TABLE message_texts; DROP INDEX messages_by_seq;
     CREATE INDEX messages_search ON messages USING gin (text_folded gin_trgm_ops);
     DELETE FROM schema_migrations WHERE version = 8`,
  )
  // 1 ms: any request would time out; a migration (and the wait for another replica's) does not.
  store = await PostgresMessageStore.open({ url, queryTimeoutMs: 1 })
  await store.close()
  store = await PostgresMessageStore.open({ url })
  const texts = await queryOnce(url, 'SELECT count(*)::int AS n FROM message_texts')
  assert.equal(texts.rows[0]?.n, messages.filter((m) => m.text !== null).length)
  const indexes = await queryOnce(
    url,
    "SELECT indexname FROM pg_indexes WHERE tablename = 'messages' ORDER BY 1",
  )
  assert.deepEqual(
    indexes.rows.map((r) => r.indexname),
    ['messages_by_sender', 'messages_by_seq', 'messages_by_time', 'messages_pkey'],
  )
  for (const q of QUERIES) {
    const query: MessageQuery = { q, limit: 10, offset: 0 }
    const page = await store.list(query)
    assert.deepEqual(
      { total: page.total, ids: page.data.map((m) => m.message_id) },
      referencePage(messages, query),
      q,
    )
  }
})
