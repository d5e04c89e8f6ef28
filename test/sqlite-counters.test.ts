import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { seededRandom } from '../bench/lib/seeded-random.js'
import { timestampSortKey } from '../src/domain/timestamp.js'
import type { Message, Stats } from '../src/storage/message-store.js'
import { MIGRATIONS } from '../src/storage/sqlite/migrations.js'
import { SqliteMessageStore } from '../src/storage/sqlite/sqlite-store.js'
import { contractOrder } from './helpers/reference.js'
import { byteOrder, tempDir } from './helpers/test-app.js'

function randomMessages(seed: number, count: number): Message[] {
  const next = seededRandom(seed)
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)] as T
  const ids = ['a', 'b', 'é', '\u{1F600}', '\uFF5E', 'Z', 'm-1', 'm-2']
  const fractions = ['', '.0', '.5', '.50', '.05', '.999']
  const messages: Message[] = []
  for (let i = 0; i < count; i++) {
    // Few ids and few instants: many duplicates and many ties on the instant.
    const id = `${pick(ids)}${Math.floor(next() * count * 0.7)}`
    const second = String(Math.floor(next() * 3)).padStart(2, '0')
    messages.push({
      message_id: id,
      from: `+${100 + Math.floor(next() * 14)}`,
      to: '+1',
      ts: `2025-01-0${1 + Math.floor(next() * 3)}T00:00:${second}${pick(fractions)}Z`,
      text: next() < 0.2 ? null : 'x',
    })
  }
  return messages
}

/** Stats recomputed from what was stored first under each id. */
function expectedStats(sent: Message[]): Stats {
  const kept = new Map<string, Message>()
  for (const m of sent) if (!kept.has(m.message_id)) kept.set(m.message_id, m)
  const rows = [...kept.values()]
  const counts = new Map<string, number>()
  for (const m of rows) counts.set(m.from, (counts.get(m.from) ?? 0) + 1)
  const sorted = [...rows].sort(contractOrder)
  return {
    total_messages: rows.length,
    senders_count: counts.size,
    messages_per_sender: [...counts]
      .map(([from, count]) => ({ from, count }))
      .sort((a, b) => b.count - a.count || byteOrder(a.from, b.from))
      .slice(0, 10),
    first_message_ts: sorted[0]?.ts ?? null,
    last_message_ts: sorted.at(-1)?.ts ?? null,
  }
}

for (const seed of [1, 2, 3, 4, 5]) {
  test(`counters equal a recomputation after random inserts and duplicates (seed ${seed})`, async (t) => {
    let store: SqliteMessageStore | undefined
    const file = path.join(
      tempDir(t, () => store?.close()),
      'counters.db',
    )
    store = new SqliteMessageStore({ file })
    const messages = randomMessages(seed, 400)
    const next = seededRandom(seed * 7)
    // Random batch sizes: several inserts per event-loop turn share a transaction.
    for (let i = 0; i < messages.length; ) {
      const size = 1 + Math.floor(next() * 40)
      await Promise.all(messages.slice(i, i + size).map((m) => store?.insert(m)))
      i += size
    }
    assert.deepEqual(await store.stats(), expectedStats(messages))
    assert.equal((await store.list({ limit: 1, offset: 0 })).total, expectedStats(messages).total_messages)
  })
}

test('migration 2 backfills the counters of a database written by version 1', async (t) => {
  let store: SqliteMessageStore | undefined
  const file = path.join(
    tempDir(t, () => store?.close()),
    'old.db',
  )
  const messages = randomMessages(9, 200)
  const old = new Database(file)
  old.exec(MIGRATIONS[0]?.sql ?? '')
  old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)')
  old.exec("INSERT INTO schema_migrations VALUES (1, '2025-01-01T00:00:00Z')")
  const insert = old.prepare(
    `INSERT INTO messages (message_id, from_msisdn, to_msisdn, ts, ts_key, text, created_at)
     VALUES (?, ?, ?, ?, ?, ?, '') ON CONFLICT DO NOTHING`,
  )
  for (const m of messages) insert.run(m.message_id, m.from, m.to, m.ts, timestampSortKey(m.ts), m.text)
  old.close()

  store = new SqliteMessageStore({ file })
  assert.deepEqual(await store.stats(), expectedStats(messages))
})

test('rebuildDerived recomputes the counters after rows were loaded behind the store', async (t) => {
  let store: SqliteMessageStore | undefined
  const file = path.join(
    tempDir(t, () => store?.close()),
    'bulk.db',
  )
  store = new SqliteMessageStore({ file })
  const messages = randomMessages(11, 150)
  const db = new Database(file)
  const insert = db.prepare(
    `INSERT INTO messages (message_id, from_msisdn, to_msisdn, ts, ts_key, text, created_at)
     VALUES (?, ?, ?, ?, ?, ?, '') ON CONFLICT DO NOTHING`,
  )
  for (const m of messages) insert.run(m.message_id, m.from, m.to, m.ts, timestampSortKey(m.ts), m.text)
  db.close()
  store.rebuildDerived()
  assert.deepEqual(await store.stats(), expectedStats(messages))
})
