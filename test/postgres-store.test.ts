import assert from 'node:assert/strict'
import { test } from 'node:test'
import pg from 'pg'
import { queryOnce } from '../bench/lib/postgres.js'
import { StorageUnavailableError } from '../src/errors.js'
import type { Message } from '../src/storage/message-store.js'
import { ADVISORY_LOCKS } from '../src/storage/postgres/advisory-locks.js'
import { PostgresMessageStore } from '../src/storage/postgres/postgres-store.js'
import { freshSchema, POSTGRES_SKIP_REASON } from './helpers/test-database.js'

const msg = (id: string, text: string): Message => ({
  message_id: id,
  from: '+1',
  to: '+2',
  ts: '2025-01-01T00:00:00Z',
  text,
})

test('a row the database refuses on its own fails alone; the rest of its batch commits', {
  skip: POSTGRES_SKIP_REASON,
}, async (t) => {
  let store: PostgresMessageStore | undefined
  const { url } = await freshSchema(t, () => store?.close())
  store = await PostgresMessageStore.open({ url })
  // A rule of the operator's that one message breaks: its batch's single statement fails.
  await queryOnce(url, "ALTER TABLE messages ADD CONSTRAINT no_boom CHECK (text <> 'boom')")
  const outcomes = await Promise.allSettled(
    ['a', 'b', 'boom', 'c'].map((text, i) => (store as PostgresMessageStore).insert(msg(`m${i}`, text))),
  )
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
  )
  const refused = (outcomes[2] as PromiseRejectedResult).reason
  assert.equal(refused instanceof StorageUnavailableError, false, 'the row is at fault, not the database')
  assert.equal(refused.code, '23514')
  const stored = await queryOnce(url, 'SELECT message_id FROM messages ORDER BY message_id')
  assert.deepEqual(
    stored.rows.map((r) => r.message_id),
    ['m0', 'm1', 'm3'],
  )
  assert.equal((await store.stats()).total_messages, 3)
})

test('the counter fold neither waits for a commit nor holds the feed back', {
  skip: POSTGRES_SKIP_REASON,
}, async (t) => {
  let store: PostgresMessageStore | undefined
  const { url } = await freshSchema(t, () => store?.close())
  store = await PostgresMessageStore.open({ url, foldIntervalMs: 0 })
  await store.ingest({ messages: [msg('a', 'x'), { ...msg('b', 'y'), from: '+7' }], statuses: [] })
  // Another connection in the middle of a commit: it holds the feed's commit-order lock.
  const committing = new pg.Client({ connectionString: url })
  await committing.connect()
  t.after(() => committing.end())
  await committing.query('BEGIN')
  await committing.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.commitOrder])
  assert.equal(await store.foldCounters(), 2, 'the fold moved both counter rows meanwhile')
  await committing.query('ROLLBACK')
  assert.deepEqual(Object.values(ADVISORY_LOCKS).length, new Set(Object.values(ADVISORY_LOCKS)).size)
  assert.equal((await store.stats()).total_messages, 2)
})

test("the search index's pending entries are merged off the write path", {
  skip: POSTGRES_SKIP_REASON,
}, async (t) => {
  let store: PostgresMessageStore | undefined
  const { url } = await freshSchema(t, () => store?.close())
  store = await PostgresMessageStore.open({ url, foldIntervalMs: 0 })
  const texts = Array.from({ length: 300 }, (_, i) => msg(`m${i}`, `order number ${i} of many`))
  await store.ingest({ messages: texts, statuses: [] })
  assert.ok((await store.mergeSearchEntries()) > 0, 'the inserts left pending entries')
  assert.equal(await store.mergeSearchEntries(), 0)
  assert.equal((await store.list({ q: 'ORDER NUMBER 29', limit: 5, offset: 0 })).total, 11)
  await store.close()
  // In the background: every fourth fold interval.
  store = await PostgresMessageStore.open({ url, foldIntervalMs: 20 })
  await store.ingest({ messages: texts.map((m) => ({ ...m, message_id: `n${m.message_id}` })), statuses: [] })
  // Every fourth 20 ms interval merges: after a second they are merged (this call would merge
  // and count any left, so it looks once).
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const left = await queryOnce(url, "SELECT gin_clean_pending_list('message_texts_search'::regclass) AS n")
  assert.equal(Number(left.rows[0]?.n), 0)
})
