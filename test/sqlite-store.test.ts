import assert from 'node:assert/strict'
import { copyFileSync, rmSync, statSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { StorageUnavailableError } from '../src/errors.js'
import type { Message } from '../src/storage/message-store.js'
import { openForwardDatabase } from '../src/storage/sqlite/forward-database.js'
import { MIGRATIONS } from '../src/storage/sqlite/migrations.js'
import { SqliteMessageStore, type SqliteStoreOptions } from '../src/storage/sqlite/sqlite-store.js'
import { FORWARD_SECRET, startReceiver } from './helpers/receiver.js'
import { createTestApp, message, postSigned, tempDir } from './helpers/test-app.js'
import { tempSqliteStore } from './helpers/test-database.js'

/** Locks held elsewhere are given up on quickly in these tests. */
const openStore = (
  t: Parameters<typeof tempSqliteStore>[0],
  name?: string,
  options: Partial<SqliteStoreOptions> = {},
) => tempSqliteStore(t, name, { busyTimeoutMs: 50, ...options })

const msg = (id: string, text: string | null = 'hi'): Message => ({
  message_id: id,
  from: '+100',
  to: '+200',
  ts: '2025-01-01T00:00:00Z',
  text,
})

test('inserts issued in one event-loop turn commit in one transaction, with per-message outcomes', async (t) => {
  const { store, file } = await openStore(t)
  await store.insert(msg('existing', 'old'))
  const before = { ...store.commits }
  const outcomes = await Promise.all([
    store.insert(msg('a')),
    store.insert(msg('b')),
    store.insert(msg('a', 'second copy in the same batch')),
    store.insert(msg('existing', 'new')),
    store.insert(msg('c')),
  ])
  assert.deepEqual(outcomes, ['created', 'created', 'duplicate', 'duplicate', 'created'])
  assert.deepEqual(store.commits, { transactions: before.transactions + 1, rows: before.rows + 5 })
  const db = new Database(file, { readonly: true })
  t.after(() => db.close())
  assert.deepEqual(db.prepare('SELECT message_id, text FROM messages ORDER BY rowid').all(), [
    { message_id: 'existing', text: 'old' },
    { message_id: 'a', text: 'hi' },
    { message_id: 'b', text: 'hi' },
    { message_id: 'c', text: 'hi' },
  ])
})

test('a row that fails on its own is rejected while its neighbours in the batch commit', async (t) => {
  const { store } = await openStore(t)
  const broken = { ...msg('broken'), from: null } as unknown as Message // violates NOT NULL
  const settled = await Promise.allSettled([
    store.insert(msg('left')),
    store.insert(broken),
    store.insert(msg('right')),
  ])
  assert.deepEqual(
    settled.map((s) => s.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  )
  const failure = (settled[1] as PromiseRejectedResult).reason as { code?: string }
  assert.equal(failure.code, 'SQLITE_CONSTRAINT_NOTNULL')
  const page = await store.list({ limit: 10, offset: 0 })
  assert.deepEqual(
    page.data.map((m) => m.message_id),
    ['left', 'right'],
  )
})

test('an insert resolves only after its row is committed and visible to another connection', async (t) => {
  const { store, file } = await openStore(t)
  const reader = new Database(file, { readonly: true })
  t.after(() => reader.close())
  const seen = reader.prepare('SELECT COUNT(*) FROM messages WHERE message_id = ?').pluck()
  const ids = Array.from({ length: 50 }, (_, i) => `visible-${i}`)
  const visibleAtAck: number[] = []
  await Promise.all(
    ids.map((id) =>
      store.insert(msg(id)).then(() => {
        visibleAtAck.push(seen.get(id) as number)
      }),
    ),
  )
  assert.deepEqual(
    visibleAtAck,
    ids.map(() => 1),
  )
})

test('when the commit cannot happen (the write lock is held elsewhere) nothing is acknowledged', async (t) => {
  const { store, file } = await openStore(t)
  const other = new Database(file)
  t.after(() => other.close())
  other.exec('BEGIN IMMEDIATE')
  const settled = await Promise.allSettled([store.insert(msg('x')), store.insert(msg('y'))])
  for (const result of settled) {
    assert.equal(result.status, 'rejected')
    assert.ok((result as PromiseRejectedResult).reason instanceof StorageUnavailableError)
  }
  other.exec('ROLLBACK')
  // The store recovers by itself once the lock is released.
  assert.equal(await store.insert(msg('x')), 'created')
  assert.equal((await store.list({ limit: 10, offset: 0 })).total, 1)
})

test('POST /webhook answers 503 storage unavailable, never 200, while the database refuses writes', async (t) => {
  const testApp = await createTestApp(t, { env: { SQLITE_BUSY_TIMEOUT_MS: '20' } })
  const other = new Database(testApp.database.file as string)
  t.after(() => other.close())
  other.exec('BEGIN IMMEDIATE')
  const body = message()
  const refused = await postSigned(testApp.app, body)
  assert.equal(refused.statusCode, 503)
  assert.deepEqual(refused.json(), { detail: 'storage unavailable' })
  assert.equal(testApp.accessLines()[0]?.result, 'storage_unavailable')
  other.exec('ROLLBACK')
  const accepted = await postSigned(testApp.app, body)
  assert.equal(accepted.statusCode, 200)
  assert.equal(testApp.accessLines()[1]?.result, 'created')
})

test('a restart keeps every message: a new app on the same file serves what the old one stored', async (t) => {
  const first = await createTestApp(t)
  const bodies = [message({ text: 'kept 1' }), message({ text: null, ts: '2025-02-01T00:00:00.5Z' })]
  for (const body of bodies) assert.equal((await postSigned(first.app, body)).statusCode, 200)
  const before = (await first.app.inject({ method: 'GET', url: '/messages' })).json()
  await first.close()

  const second = await createTestApp(t, { database: first.database })
  const after = (await second.app.inject({ method: 'GET', url: '/messages' })).json()
  assert.deepEqual(after, before)
  assert.equal(after.total, 2)
  assert.equal((await postSigned(second.app, bodies[0])).statusCode, 200)
  assert.equal(second.accessLines()[1]?.result, 'duplicate')
  // Migrations ran once and are not re-applied on restart.
  const db = new Database(first.database.file as string, { readonly: true })
  t.after(() => db.close())
  assert.deepEqual(
    db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(),
    MIGRATIONS.map((m) => m.version),
  )
  await second.close()
})

test('the database runs in WAL mode', async (t) => {
  const { file } = await openStore(t)
  const db = new Database(file, { readonly: true })
  t.after(() => db.close())
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
})

test('the parent folder of the SQLite file is created when missing', async (t) => {
  const { store } = await openStore(t, path.join('deep', 'er', 'app.db'))
  assert.equal(await store.insert(msg('a')), 'created')
})

test('a turn with more inserts than the batch cap commits them in several transactions', async (t) => {
  const { store } = await openStore(t, 'capped.db', { maxBatchRows: 3 })
  const before = { ...store.commits }
  const outcomes = await Promise.all(Array.from({ length: 7 }, (_, i) => store.insert(msg(`cap-${i}`))))
  assert.deepEqual(
    outcomes,
    outcomes.map(() => 'created'),
  )
  assert.deepEqual(store.commits, { transactions: before.transactions + 3, rows: before.rows + 7 })
})

test('the background checkpointer copies committed pages into the database file', async (t) => {
  const { store, file } = await openStore(t, 'checkpointed.db', { checkpointIntervalMs: 20 })
  const sizeOf = () => statSync(file).size
  const before = sizeOf()
  // Far below SQLite's own (backstop) checkpoint: only the worker can move these pages.
  await Promise.all(Array.from({ length: 2000 }, (_, i) => store.insert(msg(`ckpt-${i}`, 'x'.repeat(200)))))
  const deadline = Date.now() + 10_000
  while (sizeOf() <= before) {
    assert.ok(Date.now() < deadline, 'the database file did not grow within 10 s: no checkpoint ran')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
})

test('a deliveries file left from another messages database is emptied, not trusted', (t) => {
  const file = path.join(tempDir(t), 'app.db')
  const counts = (owner: string) => {
    const db = openForwardDatabase(file, owner, 42, 1000)
    try {
      return [
        db.prepare('SELECT count(*) FROM forward_destinations').pluck().get(),
        db.prepare('SELECT count(*) FROM deliveries').pluck().get(),
      ]
    } finally {
      db.close()
    }
  }
  const first = openForwardDatabase(file, 'store-a', 42, 1000)
  first
    .prepare(`INSERT INTO forward_destinations (url, dispatched_seq) VALUES ('http://receiver/', 42)`)
    .run()
  first
    .prepare(
      `INSERT INTO deliveries (event_seq, destination, status, created_at) VALUES (1, 'http://receiver/', 'pending', 'x')`,
    )
    .run()
  first.close()
  assert.deepEqual(counts('store-a'), [1, 1], 'its own messages database: kept')
  // A place in another database's feed would skip or repeat events: start over.
  assert.deepEqual(counts('store-b'), [0, 0])
})

test('a messages database restored from its own earlier backup, beside a newer deliveries file, forwards every new event', async (t) => {
  const receiver = await startReceiver(t)
  const env = { FORWARD_URL: receiver.url, FORWARD_SECRET, FORWARD_RETRY_SCHEDULE: '0,0' }
  const ids = () =>
    receiver.received.map((r) => (JSON.parse(r.body) as { data: { message_id: string } }).data.message_id)
  const first = await createTestApp(t, { env })
  const file = first.database.file as string
  await postSigned(first.app, message({ message_id: 'before-backup' }))
  await receiver.until((received) => received.length === 1)
  const copy = path.join(tempDir(t), 'backup.db')
  const source = new Database(file, { readonly: true })
  await source.backup(copy)
  source.close()
  await postSigned(first.app, message({ message_id: 'after-backup-1' }))
  await postSigned(first.app, message({ message_id: 'after-backup-2' }))
  await receiver.until((received) => received.length === 3)
  await first.close()

  // Restored in place; the deliveries file (its place: event 3) and the search index stay.
  rmSync(`${file}-wal`, { force: true })
  rmSync(`${file}-shm`, { force: true })
  copyFileSync(copy, file)
  const second = await createTestApp(t, { env, database: first.database })
  await postSigned(second.app, message({ message_id: 'after-restore' }))
  await receiver.until((received) => received.length === 4)
  assert.deepEqual(ids(), ['before-backup', 'after-backup-1', 'after-backup-2', 'after-restore'])
  const feed = (await second.app.inject({ method: 'GET', url: '/events' })).json() as {
    data: { id: string }[]
  }
  assert.deepEqual(
    feed.data.map((event) => event.id),
    ['1', '2'],
    'the restored feed: its one event, then the new one at the next position',
  )
})

test('a database and search file from before deletions are upgraded: the last row deleted, a new one takes a fresh rowid, every index stays exact', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'old.db')
  // The schema as it was before migration 9, filled behind the store's back.
  const old = new Database(file)
  old.pragma('journal_mode = WAL')
  old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)')
  for (const migration of MIGRATIONS.filter((m) => m.version <= 8)) {
    old.exec(migration.sql)
    old.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(migration.version, '2025-01-01T00:00:00Z')
  }
  const insert = old.prepare(
    `INSERT INTO messages (message_id, from_msisdn, to_msisdn, ts, ts_key, text, created_at)
     VALUES (?, ?, '+9', ?, ?, ?, '2025-01-01T00:00:00.000Z')`,
  )
  for (let i = 1; i <= 300; i++) {
    const ts = `2025-01-01T00:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}Z`
    insert.run(`old-${i}`, `+${i % 3}`, ts, ts.slice(0, 19), i % 2 ? `odd words ${i}` : `even words ${i}`)
  }
  const owner = old.prepare('SELECT store_id FROM store_meta').pluck().get() as string
  old.close()
  // Its search file in the old format (contentless, no deletion by rowid), fully indexed.
  const search = new Database(path.join(dir, 'old.search.db'))
  search.exec(`CREATE VIRTUAL TABLE messages_search USING fts5(body, content = '', columnsize = 0, tokenize = 'trigram case_sensitive 1');
    CREATE TABLE search_progress (id INTEGER PRIMARY KEY CHECK (id = 1), owner TEXT NOT NULL, indexed_rowid INTEGER NOT NULL);`)
  search.prepare('INSERT INTO search_progress VALUES (1, ?, 300)').run(owner)
  search.close()

  const store = await SqliteMessageStore.open({ file })
  t.after(() => store.close())
  await store.rebuildDerived() // the counters and indexes of the rows loaded behind its back
  const count = async (q: { from?: string; q?: string }) =>
    (await store.list({ limit: 1, offset: 0, ...q })).total
  assert.equal(await count({ q: 'odd words' }), 150)
  // The last row (the highest rowid) goes, then a new message arrives: it must not take that rowid.
  assert.equal(await store.delete({ reason: 'single', messageId: 'old-300' }), 1)
  assert.equal(await store.insert({ ...msg('new-1', 'even words new'), from: '+0' }), 'created')
  await store.rebuildDerived() // indexes caught up to the new row
  const db = new Database(file, { readonly: true })
  t.after(() => db.close())
  assert.equal(db.prepare("SELECT rowid FROM messages WHERE message_id = 'new-1'").pluck().get(), 301)
  assert.equal(await count({ q: 'even words' }), 150) // 150 even, one deleted, one new
  assert.equal(await count({ from: '+0' }), 100) // 100 old (300 was one of them) + the new one
  assert.equal((await store.list({ limit: 5, offset: 0, from: '+0', q: 'new' })).data[0]?.message_id, 'new-1')
  assert.equal((await store.stats()).total_messages, 300)
  // The search file was made again in the format that drops a row by rowid, and has dropped it.
  const index = new Database(path.join(dir, 'old.search.db'), { readonly: true })
  t.after(() => index.close())
  const schema = index.prepare("SELECT sql FROM sqlite_schema WHERE name = 'messages_search'").pluck().get()
  assert.match(String(schema), /contentless_delete = 1/)
  assert.equal(index.prepare('SELECT purged_seq FROM search_progress').pluck().get(), 1)
})
