import Database from 'better-sqlite3'
import { timestampSortKey } from '../../src/domain/timestamp.js'
import { SqliteMessageStore } from '../../src/storage/sqlite/sqlite-store.js'
import { MessageFactory } from './bodies.js'

const BATCH_ROWS = 50_000

/**
 * Bulk-inserts `count` rows into a database whose schema Inlet has already created (the
 * harness starts Inlet on the file once, so migrations stay Inlet's business), then has
 * the store rebuild what it derives from them. The rows
 * come from another seed and end before the bench traffic's timestamps begin.
 */
export async function prefillMessages(file: string, count: number): Promise<void> {
  const db = new Database(file)
  try {
    const insert = db.prepare(
      `INSERT INTO messages (message_id, from_msisdn, to_msisdn, ts, ts_key, text, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    const factory = new MessageFactory(2, '2024-01-01T00:00:00Z')
    const createdAt = new Date().toISOString()
    const insertBatch = db.transaction((rows: number) => {
      for (let i = 0; i < rows; i++) {
        const m = factory.next()
        insert.run(m.message_id, m.from, m.to, m.ts, timestampSortKey(m.ts), m.text, createdAt)
      }
    })
    for (let done = 0; done < count; done += BATCH_ROWS) insertBatch(Math.min(BATCH_ROWS, count - done))
  } finally {
    db.close()
  }
  // The counters and the search index as the store keeps them, built once up front; then
  // closing checkpoints the WAL into the file, so copying the file copies everything.
  const store = await SqliteMessageStore.open({ file })
  await store.rebuildDerived()
  await store.close()
}

export function countMessages(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    return db.prepare('SELECT COUNT(*) FROM messages').pluck().get() as number
  } finally {
    db.close()
  }
}
