/**
 * Ordered, append-only schema changes for PostgreSQL, applied in one transaction under an
 * advisory lock so that replicas starting together apply each exactly once. Never edit one
 * that has shipped; add the next.
 */
export const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      -- Trigram indexes make the substring search behind q an index lookup.
      CREATE EXTENSION IF NOT EXISTS pg_trgm;
      -- COLLATE "C" compares bytes: the contract's order of message_id (UTF-8 byte order)
      -- and of the timestamp sort key, whatever the database's default collation is.
      CREATE TABLE messages (
        seq         bigint GENERATED ALWAYS AS IDENTITY,  -- arrival order, for operators
        message_id  text COLLATE "C" NOT NULL PRIMARY KEY,
        from_msisdn text COLLATE "C" NOT NULL,
        to_msisdn   text NOT NULL,
        ts          text NOT NULL,              -- exactly as sent
        ts_key      text COLLATE "C" NOT NULL,  -- instant order as text (domain/timestamp.ts)
        text        text,
        text_folded text,                       -- domain/text-search.ts foldCase(text)
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX messages_by_time ON messages (ts_key, message_id);
      CREATE INDEX messages_by_sender ON messages (from_msisdn, ts_key, message_id);
      CREATE INDEX messages_search ON messages USING gin (text_folded gin_trgm_ops);
      -- Counters kept in the insert's own statement, spread over shards: each batch adds to
      -- one shard chosen at random, so replicas inserting at once rarely wait on the same
      -- row, and /stats sums a few rows per sender instead of scanning messages.
      CREATE TABLE sender_counts (
        from_msisdn text COLLATE "C" NOT NULL,
        shard       smallint NOT NULL,
        count       bigint NOT NULL,
        PRIMARY KEY (from_msisdn, shard)
      );
      CREATE TABLE message_totals (
        shard smallint PRIMARY KEY,
        total bigint NOT NULL
      );
    `,
  },
]

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0
