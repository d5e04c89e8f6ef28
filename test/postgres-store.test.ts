import assert from 'node:assert/strict'
import { test } from 'node:test'
import { queryOnce } from '../bench/lib/postgres.js'
import { StorageUnavailableError } from '../src/errors.js'
import type { Message } from '../src/storage/message-store.js'
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
