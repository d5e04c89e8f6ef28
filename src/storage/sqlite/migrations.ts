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
]

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0
