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
  {
    version: 2,
    sql: `
      -- What a provider's message keeps beside the contract's fields (sources/whatsapp/).
      -- Columns with a constant default are added without rewriting the table.
      ALTER TABLE messages
        ADD COLUMN source text NOT NULL DEFAULT 'webhook',
        ADD COLUMN type text,
        ADD COLUMN contact_name text,
        ADD COLUMN phone_number_id text,
        ADD COLUMN payload json;  -- json, not jsonb: it keeps any item as sent, escaped NUL characters included
      -- Delivery statuses, once per (message, status), usually of messages the business sent
      -- (which Inlet never stored), so no foreign key.
      CREATE TABLE message_statuses (
        message_id   text COLLATE "C" NOT NULL,
        status       text NOT NULL,
        ts           text NOT NULL,  -- YYYY-MM-DDTHH:MM:SSZ
        recipient_id text NOT NULL,
        errors       json,
        received_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (message_id, status)
      );
      -- The current status of each message: the highest rank received (domain/message-status.ts).
      CREATE TABLE status_current (
        message_id   text COLLATE "C" NOT NULL PRIMARY KEY,
        status       text NOT NULL,
        rank         smallint NOT NULL,
        updated_at   text NOT NULL,
        updated_key  text COLLATE "C" NOT NULL,
        recipient_id text COLLATE "C" NOT NULL
      );
      CREATE INDEX status_current_by_time ON status_current (updated_key, message_id);
      CREATE INDEX status_current_by_status ON status_current (status, updated_key, message_id);
      CREATE INDEX status_current_by_recipient ON status_current (recipient_id, updated_key, message_id);
    `,
  },
  {
    version: 3,
    sql: `
      -- The feed (SPEC 2.4): one row per stored message or current-status move, written in the
      -- batch's own transaction. seq is taken under a transaction-scoped advisory lock held
      -- until COMMIT, so seqs become visible in the order they were taken (postgres-store.ts).
      CREATE SEQUENCE events_seq;
      CREATE TABLE events (
        seq        bigint PRIMARY KEY,
        type       text NOT NULL,   -- message.created, status.updated
        message_id text COLLATE "C" NOT NULL,
        status     text,            -- the status that became current (status.updated)
        created_at timestamptz NOT NULL DEFAULT now()
      );
      -- Forwarding: each destination's place in the feed, and whether it answered 410 Gone.
      CREATE TABLE forward_destinations (
        url            text PRIMARY KEY,
        dispatched_seq bigint NOT NULL,
        gone_at        timestamptz
      );
      CREATE TABLE deliveries (
        id               bigserial PRIMARY KEY,
        event_seq        bigint NOT NULL,
        destination      text NOT NULL,
        status           text NOT NULL,   -- pending, delivered, failed
        attempts         integer NOT NULL DEFAULT 0,
        last_status_code integer,
        last_error       text,
        next_attempt_at  timestamptz,     -- pending only
        delivered_at     timestamptz,
        lease_until      timestamptz,     -- an attempt in progress, until then
        created_at       timestamptz NOT NULL,
        UNIQUE (destination, event_seq)
      );
      CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
      CREATE INDEX deliveries_by_status ON deliveries (status, id);
    `,
  },
  {
    version: 4,
    sql: `
      -- Deletions (SPEC 2.6): a message_id deleted by DELETE /messages is remembered for a
      -- while (TOMBSTONE_DAYS), so that a provider's retry is acknowledged and not stored
      -- again. Counters are decremented by adding negative counts to a shard.
      CREATE TABLE tombstones (
        message_id text COLLATE "C" PRIMARY KEY,
        deleted_at timestamptz NOT NULL DEFAULT now()
      );
      -- Why a message.deleted event's message went: single, erasure, retention.
      ALTER TABLE events ADD COLUMN reason text;
    `,
  },
  {
    version: 5,
    sql: `
      -- Remembered counts (storage/count-cache.ts): the messages up to a feed position that
      -- match a filter never change until a deletion, and every deletion statement raises
      -- this epoch in its own transaction, so a count from another epoch is never used.
      CREATE TABLE store_meta (
        id        smallint PRIMARY KEY CHECK (id = 1),
        deletions bigint NOT NULL
      );
      INSERT INTO store_meta (id, deletions) VALUES (1, 0);
    `,
  },
  {
    version: 6,
    sql: `
      -- Stats from a fold: a background step (postgres-store.ts foldCounters) moves the
      -- counter shards' rows into one row per sender here, under an index by count, so /stats
      -- reads the shards written since the last fold plus the first rows of that index,
      -- instead of summing every shard of every sender. sender_fold.senders: how many rows here are > 0.
      CREATE TABLE sender_totals (
        from_msisdn text COLLATE "C" PRIMARY KEY,
        count       bigint NOT NULL
      );
      CREATE INDEX sender_totals_by_count ON sender_totals (count DESC, from_msisdn);
      -- A row of its own, not store_meta's: deletions update that one, and a fold waiting on a
      -- deletion's row lock would hold the counter rows webhooks need meanwhile.
      CREATE TABLE sender_fold (
        id      smallint PRIMARY KEY CHECK (id = 1),
        senders bigint NOT NULL
      );
      INSERT INTO sender_fold (id, senders) VALUES (1, 0);
    `,
  },
  {
    version: 7,
    sql: `
      -- The planner estimates how many texts contain a word from a sample of them: with the
      -- default 100 it guessed 93 of a million for a word in 1 % of texts, and chose plans
      -- that fetch thousands of rows to keep a few (bench/RESULTS.md, Reads on PostgreSQL).
      -- 1,000 brings the estimate within 10 %; ANALYZE then samples 300,000 rows (2.3 s at a
      -- million, in the background as autovacuum does it).
      ALTER TABLE messages ALTER COLUMN text_folded SET STATISTICS 1000;
      ANALYZE messages;
      -- The fold deletes every counter row it moves: autovacuum clears them after 1,000 (not
      -- 20 % of the table), so /stats scans few dead rows; keeping the emptied pages avoids
      -- the exclusive lock that giving them back takes.
      ALTER TABLE sender_counts SET (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0,
        vacuum_truncate = false);
    `,
  },
  {
    version: 8,
    sql: `
      -- Search moves to a narrow table of its own: the columns a filter tests, one row per
      -- message that has a text, in the batch's own statement (postgres-store.ts). Counting a
      -- common word's matches reads each candidate row to check it; here a row is about 120
      -- bytes instead of the message's 260 (payloads make theirs longer still), so the rows a
      -- count reads are a third as many pages and stay in PostgreSQL's default 128 MB of
      -- shared buffers at a million messages (bench/RESULTS.md, Reads on PostgreSQL: the
      -- first count of a word in 30 % of texts went from 340 to about 130 ms).
      CREATE TABLE message_texts (
        seq         bigint PRIMARY KEY,          -- messages.seq
        from_msisdn text COLLATE "C" NOT NULL,
        ts_key      text COLLATE "C" NOT NULL,
        text_folded text NOT NULL
      );
      INSERT INTO message_texts (seq, from_msisdn, ts_key, text_folded)
        SELECT seq, from_msisdn, ts_key, text_folded FROM messages WHERE text_folded IS NOT NULL ORDER BY seq;
      CREATE INDEX message_texts_search ON message_texts USING gin (text_folded gin_trgm_ops);
      ALTER TABLE message_texts ALTER COLUMN text_folded SET STATISTICS 1000;
      -- Matches found here are read from messages by seq. The trigram index on messages goes:
      -- each write kept two otherwise (a GIN entry costs ten times a B-tree's).
      CREATE INDEX messages_by_seq ON messages (seq);
      DROP INDEX messages_search;
      ANALYZE message_texts;
    `,
  },
]

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0
