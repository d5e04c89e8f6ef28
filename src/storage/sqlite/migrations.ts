import type Database from 'better-sqlite3'

/**
 * Recomputes the counters of migration 2 from the messages themselves: used by that
 * migration for existing rows, and after a bulk load that bypassed the store.
 */
export const REBUILD_COUNTERS_SQL = `
  DELETE FROM sender_counts;
  INSERT INTO sender_counts (from_msisdn, count)
    SELECT from_msisdn, COUNT(*) FROM messages GROUP BY from_msisdn;
  DELETE FROM message_totals;
  INSERT INTO message_totals (id, total, senders, first_key, first_id, first_ts, last_key, last_id, last_ts)
    SELECT 1,
      (SELECT COUNT(*) FROM messages),
      (SELECT COUNT(*) FROM sender_counts),
      f.ts_key, f.message_id, f.ts, l.ts_key, l.message_id, l.ts
    FROM (SELECT 1) LEFT JOIN
      (SELECT ts_key, message_id, ts FROM messages ORDER BY ts_key, message_id LIMIT 1) AS f LEFT JOIN
      (SELECT ts_key, message_id, ts FROM messages ORDER BY ts_key DESC, message_id DESC LIMIT 1) AS l;
`

/**
 * Ordered, append-only schema changes. Each runs once, in its own transaction, and is
 * recorded in schema_migrations; never edit one that has shipped, add the next.
 */
export const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      -- A rowid table: rows append at the end of the table b-tree in arrival order, and
      -- only the message_id index takes random-key inserts. Every random index costs a
      -- dirty page per row at each commit (measured: a (from, ts) index doubled the
      -- cost of an insert), so the ack path keeps just these two.
      CREATE TABLE messages (
        message_id  TEXT NOT NULL PRIMARY KEY,
        from_msisdn TEXT NOT NULL,
        to_msisdn   TEXT NOT NULL,
        ts          TEXT NOT NULL,   -- exactly as sent
        ts_key      TEXT NOT NULL,   -- instant order as text (domain/timestamp.ts)
        text        TEXT,
        created_at  TEXT NOT NULL
      );
      -- The contract's total order: instant, then message_id in byte order (BINARY collation).
      CREATE INDEX messages_by_time ON messages (ts_key, message_id);
    `,
  },
  {
    version: 2,
    sql: `
      -- Counters kept in the insert's own transaction, so /stats and the unfiltered total
      -- cost the same at 10 rows and 10 million. Only this process writes them (SQLite has
      -- one writer), so a single totals row is no contention.
      CREATE TABLE sender_counts (
        from_msisdn TEXT NOT NULL PRIMARY KEY,
        count       INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE message_totals (
        id        INTEGER PRIMARY KEY CHECK (id = 1),
        total     INTEGER NOT NULL,
        senders   INTEGER NOT NULL,
        first_key TEXT, first_id TEXT, first_ts TEXT,  -- the earliest message by (ts_key, message_id)
        last_key  TEXT, last_id  TEXT, last_ts  TEXT   -- the latest
      );
      ${REBUILD_COUNTERS_SQL}
    `,
  },
  {
    version: 3,
    sql: `
      -- Substring search behind q: an FTS5 trigram index over the case-folded text
      -- (domain/text-search.ts), so a query of three or more characters is an index lookup.
      -- The folding is done before indexing, hence case_sensitive 1: FTS5's own folding
      -- would differ from the contract's. Contentless: the text lives in messages.
      CREATE VIRTUAL TABLE messages_search USING fts5(
        body, content = '', columnsize = 0, tokenize = 'trigram case_sensitive 1'
      );
      -- The sender filter's index, in the contract's order. Like the search index it is
      -- filled in bulk shortly after commits rather than on the ack path, where a random
      -- (from, ts) index doubled the cost of an insert.
      CREATE TABLE sender_index (
        from_msisdn TEXT NOT NULL,
        ts_key      TEXT NOT NULL,
        message_id  TEXT NOT NULL,
        PRIMARY KEY (from_msisdn, ts_key, message_id)
      ) WITHOUT ROWID;
      -- How far (by messages.rowid) both indexes have got. Existing rows are indexed at start.
      CREATE TABLE index_progress (id INTEGER PRIMARY KEY CHECK (id = 1), indexed_rowid INTEGER NOT NULL);
      INSERT INTO index_progress (id, indexed_rowid) VALUES (1, 0);
    `,
  },
  {
    version: 4,
    sql: `
      -- Scratch space for the readiness probe after a failed write (disk full, say): it
      -- writes a row big enough to need new pages, commits, and deletes it again.
      CREATE TABLE write_probe (id INTEGER PRIMARY KEY, filler BLOB NOT NULL);
    `,
  },
  {
    version: 5,
    sql: `
      -- The search index moves to a database file of its own (search-index.ts), written by
      -- the indexer thread, so that FTS5's merges never hold the messages' write lock.
      -- index_progress now tracks the sender index only. store_id names this database, so
      -- that a search file belonging to another one is never trusted.
      DROP TABLE messages_search;
      CREATE TABLE store_meta (id INTEGER PRIMARY KEY CHECK (id = 1), store_id TEXT NOT NULL);
      INSERT INTO store_meta (id, store_id) VALUES (1, lower(hex(randomblob(16))));
    `,
  },
  {
    version: 6,
    sql: `
      -- The sender index keeps each message's rowid: a sender's rows are then read without a
      -- lookup by message_id, and a sender's rowids can be intersected with a search's.
      CREATE TABLE sender_rows (
        from_msisdn TEXT NOT NULL,
        ts_key      TEXT NOT NULL,
        message_id  TEXT NOT NULL,
        row         INTEGER NOT NULL,  -- messages.rowid
        PRIMARY KEY (from_msisdn, ts_key, message_id)
      ) WITHOUT ROWID;
      INSERT INTO sender_rows (from_msisdn, ts_key, message_id, row)
        SELECT s.from_msisdn, s.ts_key, s.message_id, m.rowid
        FROM sender_index AS s JOIN messages AS m ON m.message_id = s.message_id;
      DROP TABLE sender_index;
      ALTER TABLE sender_rows RENAME TO sender_index;
    `,
  },
  {
    version: 7,
    sql: `
      -- What a provider's message keeps beside the contract's fields (sources/whatsapp/).
      -- Adding columns is instant in SQLite, whatever the table's size.
      ALTER TABLE messages ADD COLUMN source TEXT NOT NULL DEFAULT 'webhook';
      ALTER TABLE messages ADD COLUMN type TEXT;
      ALTER TABLE messages ADD COLUMN contact_name TEXT;
      ALTER TABLE messages ADD COLUMN phone_number_id TEXT;
      ALTER TABLE messages ADD COLUMN payload TEXT;  -- the provider's item, JSON
      -- Delivery statuses, once per (message, status), usually of messages the business sent
      -- (which Inlet never stored), so no foreign key.
      CREATE TABLE message_statuses (
        message_id   TEXT NOT NULL,
        status       TEXT NOT NULL,
        ts           TEXT NOT NULL,   -- YYYY-MM-DDTHH:MM:SSZ
        recipient_id TEXT NOT NULL,
        errors       TEXT,            -- JSON array, as the provider sent it
        received_at  TEXT NOT NULL,
        PRIMARY KEY (message_id, status)
      ) WITHOUT ROWID;
      -- The current status of each message: the highest rank received (domain/message-status.ts).
      CREATE TABLE status_current (
        message_id   TEXT NOT NULL PRIMARY KEY,
        status       TEXT NOT NULL,
        rank         INTEGER NOT NULL,
        updated_at   TEXT NOT NULL,   -- the ts of the current status
        updated_key  TEXT NOT NULL,   -- its sort key (domain/timestamp.ts)
        recipient_id TEXT NOT NULL
      ) WITHOUT ROWID;
      -- GET /statuses: in (updated_at, message_id) order, by itself or by status or recipient.
      CREATE INDEX status_current_by_time ON status_current (updated_key, message_id);
      CREATE INDEX status_current_by_status ON status_current (status, updated_key, message_id);
      CREATE INDEX status_current_by_recipient ON status_current (recipient_id, updated_key, message_id);
    `,
  },
  {
    version: 8,
    sql: `
      -- The feed (SPEC 2.4): one row per stored message or current-status move, written in the
      -- batch's own transaction. The single writer makes seq the commit order; AUTOINCREMENT
      -- never hands out a seq twice, and VACUUM keeps an INTEGER PRIMARY KEY.
      CREATE TABLE events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        type       TEXT NOT NULL,   -- message.created, status.updated
        message_id TEXT NOT NULL,
        status     TEXT,            -- the status that became current (status.updated)
        created_at TEXT NOT NULL    -- ISO-8601 UTC with milliseconds
      );
      -- Forwarding's deliveries live in a file of their own (forward-database.ts).
    `,
  },
  {
    version: 9,
    sql: `
      -- Deletions (SPEC 2.6). A message_id deleted by DELETE /messages is remembered for a
      -- while (TOMBSTONE_DAYS), so that a provider's retry is acknowledged and not stored
      -- again: the id and the day (since 1970) it was deleted, nothing of the content.
      CREATE TABLE tombstones (
        message_id  TEXT NOT NULL PRIMARY KEY,
        deleted_day INTEGER NOT NULL
      ) WITHOUT ROWID;
      -- Deleted rowids the search index (its own file) may still hold: the upkeep thread
      -- removes them from it, then the writer forgets them here. Until then reads subtract
      -- them (message-reader.ts). AUTOINCREMENT: seq never goes back, even when emptied.
      CREATE TABLE search_purge (seq INTEGER PRIMARY KEY AUTOINCREMENT, row INTEGER NOT NULL);
      -- max_rowid: the highest messages.rowid ever used. New rows take rowids above it, so
      -- a deleted row's rowid is never reused: the indexes' progress marks (everything up
      -- to a rowid is indexed) stay true after deletions. deletions: a count of deletion
      -- transactions, the epoch of remembered counts (count-cache.ts).
      ALTER TABLE store_meta ADD COLUMN max_rowid INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE store_meta ADD COLUMN deletions INTEGER NOT NULL DEFAULT 0;
      UPDATE store_meta SET max_rowid = coalesce((SELECT max(rowid) FROM messages), 0);
      -- Why a message.deleted event's message went: single, erasure, retention.
      ALTER TABLE events ADD COLUMN reason TEXT;
    `,
  },
]

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0

/** Applies the migrations not yet recorded, each in its own transaction. */
export function migrate(db: Database.Database, now: () => Date): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)',
  )
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[])
  const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)')
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue
    db.transaction(() => {
      db.exec(migration.sql)
      record.run(migration.version, now().toISOString())
    }).immediate()
  }
}
