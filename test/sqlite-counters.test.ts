import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { timestampSortKey } from '../src/domain/timestamp.js'
import { MIGRATIONS } from '../src/storage/sqlite/migrations.js'
import { SqliteMessageStore } from '../src/storage/sqlite/sqlite-store.js'
import { expectedStats, randomMessages } from './helpers/reference.js'
import { tempDir } from './helpers/test-app.js'
import { tempSqliteStore } from './helpers/test-database.js'

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
  const { store, file } = await tempSqliteStore(t, 'bulk.db')
  const messages = randomMessages(11, 150)
  const db = new Database(file)
  const insert = db.prepare(
    `INSERT INTO messages (message_id, from_msisdn, to_msisdn, ts, ts_key, text, created_at)
     VALUES (?, ?, ?, ?, ?, ?, '') ON CONFLICT DO NOTHING`,
  )
  for (const m of messages) insert.run(m.message_id, m.from, m.to, m.ts, timestampSortKey(m.ts), m.text)
  db.close()
  await store.rebuildDerived()
  assert.deepEqual(await store.stats(), expectedStats(messages))
})
