import path from 'node:path'
import Database from 'better-sqlite3'

/**
 * Forwarding's deliveries live in a database file of their own beside the messages
 * (`app.db` → `app.forward.db`), written only by the forwarder thread: its transactions
 * never take the messages' write lock, so no webhook ever waits for one. They do not fsync
 * (synchronous=NORMAL): a crash of the process loses none of them, a power cut at most the
 * changes since the last checkpoint, and each is redone safely (deliveries are made again from a destination's place in
 * the feed, an attempt whose result was lost is made again: at least once, SPEC 2.4). Readers
 * attach it read-only for GET /deliveries.
 */
export function forwardDatabaseFile(file: string): string {
  const extension = path.extname(file)
  return `${file.slice(0, file.length - extension.length)}.forward${extension}`
}

/** The schema name readers attach the deliveries under. */
export const FORWARD_SCHEMA = 'forward'

const SCHEMA_SQL = `
  -- Whose deliveries these are: the store_id of the messages database (store_meta).
  CREATE TABLE IF NOT EXISTS forward_meta (id INTEGER PRIMARY KEY CHECK (id = 1), owner TEXT NOT NULL);
  -- Each destination's place in the feed (events up to dispatched_seq have their
  -- deliveries), and whether it answered 410 Gone.
  CREATE TABLE IF NOT EXISTS forward_destinations (
    url            TEXT PRIMARY KEY,
    dispatched_seq INTEGER NOT NULL,
    gone_at        TEXT
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq        INTEGER NOT NULL,
    destination      TEXT NOT NULL,
    status           TEXT NOT NULL,   -- pending, delivered, failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error       TEXT,
    next_attempt_at  TEXT,            -- pending only
    delivered_at     TEXT,
    lease_until      TEXT,            -- an attempt in progress, until then
    created_at       TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
  CREATE INDEX IF NOT EXISTS deliveries_by_status ON deliveries (status, id);
`

/**
 * Opens (creating if needed) the deliveries database of the messages database whose
 * store_id is `owner` and whose feed ends at `head`. One left from another messages database
 * is emptied: its places in the feed would point at other events. One ahead of the feed (the
 * messages database was restored from an earlier backup of itself, the same store_id) is
 * brought back to it: the feed's next events reuse those positions, so a place past `head`
 * would skip them, and a delivery of a position past `head` would send another event.
 */
export function openForwardDatabase(
  file: string,
  owner: string,
  head: number,
  busyTimeoutMs: number,
): Database.Database {
  const db = new Database(forwardDatabaseFile(file), { timeout: busyTimeoutMs })
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  // No checkpoint inside these transactions: each one's fsyncs would queue on the disk
  // behind (and ahead of) the message batches' COMMITs. The forwarder checkpoints on a
  // timer instead (forward-store.ts).
  db.pragma('wal_autocheckpoint = 0')
  db.exec(SCHEMA_SQL)
  const current = db.prepare('SELECT owner FROM forward_meta WHERE id = 1').pluck().get() as
    | string
    | undefined
  if (current !== owner) {
    db.transaction(() => {
      db.exec('DELETE FROM deliveries; DELETE FROM forward_destinations;')
      db.prepare(
        'INSERT INTO forward_meta (id, owner) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET owner = excluded.owner',
      ).run(owner)
    }).immediate()
  }
  // Deliveries are made only for positions up to a destination's place, so with no place
  // past the feed's end there is nothing to move back (and no scan of deliveries at start).
  const ahead = db.prepare('SELECT 1 FROM forward_destinations WHERE dispatched_seq > ? LIMIT 1').get(head)
  if (ahead !== undefined) {
    db.transaction(() => {
      db.prepare('UPDATE forward_destinations SET dispatched_seq = ? WHERE dispatched_seq > ?').run(
        head,
        head,
      )
      db.prepare('DELETE FROM deliveries WHERE event_seq > ?').run(head)
    }).immediate()
  }
  return db
}
