import { ADVISORY_LOCKS } from './advisory-locks.js'

// The feed's and forwarding's SQL on PostgreSQL (postgres-store.ts runs it).

/** A timestamptz as the API shows it: ISO-8601 UTC with milliseconds. */
export const iso = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/** The channel a commit that added events notifies, so every replica's consumers wake. */
export const EVENTS_CHANNEL = 'inlet_events'

/**
 * Appends a batch's events, last in its transaction. Positions are handed out only under a
 * transaction-scoped advisory lock, which PostgreSQL releases after the COMMIT is visible:
 * so a transaction that took seq 11 cannot become visible before the one that took 10, and
 * a reader that sees 11 has seen 10. Taken after the batch's inserts (which may wait on
 * another replica's uncommitted rows), never before them, so it cannot deadlock with them.
 * `ordered: false` is the naive form (a sequence alone) that tests use to show the lock is
 * needed.
 */
export function appendEventsSql(ordered: boolean): string {
  const lock = ordered
    ? `commit_order AS MATERIALIZED (SELECT pg_advisory_xact_lock(${ADVISORY_LOCKS.commitOrder})),`
    : ''
  return `
    WITH ${lock} appended AS (
      INSERT INTO events (seq, type, message_id, status, reason)
      SELECT nextval('events_seq'), e.type, e.message_id, e.status, e.reason
      FROM (SELECT u.* FROM ${ordered ? 'commit_order, ' : ''}
              unnest($1::text[], $2::text[], $3::text[], $4::text[])
                WITH ORDINALITY AS u (type, message_id, status, reason, n)
            ORDER BY u.n) AS e
      RETURNING seq
    )
    SELECT pg_notify('${EVENTS_CHANNEL}', '') FROM (SELECT 1 FROM appended LIMIT 1) AS any_event`
}

export const EVENT_COLUMNS = `seq::float8 AS seq, type, message_id, status, reason, ${iso('created_at')} AS created_at`

export const MESSAGE_DETAIL_COLUMNS = `message_id, from_msisdn, to_msisdn, ts, text, source, type, contact_name,
  payload, ${iso('created_at')} AS received_at`

export const DELIVERY_COLUMNS = `id::float8 AS id, event_seq::text AS event_id, destination, status, attempts,
  last_status_code, last_error, ${iso('next_attempt_at')} AS next_attempt_at, ${iso('delivered_at')} AS delivered_at`

/** Deliveries for a destination's next events, its place moved past them; one statement. */
export const DISPATCH_SQL = `
  WITH place AS (
    SELECT dispatched_seq FROM forward_destinations WHERE url = $1 AND gone_at IS NULL FOR UPDATE
  ), next AS (
    SELECT e.seq FROM events AS e, place WHERE e.seq > place.dispatched_seq ORDER BY e.seq LIMIT $2
  ), added AS (
    INSERT INTO deliveries (event_seq, destination, status, next_attempt_at, created_at)
    SELECT seq, $1, 'pending', $3, $3 FROM next ORDER BY seq
    ON CONFLICT (destination, event_seq) DO NOTHING
  ), moved AS (
    UPDATE forward_destinations SET dispatched_seq = (SELECT max(seq) FROM next)
    WHERE url = $1 AND EXISTS (SELECT 1 FROM next)
  )
  SELECT count(*)::int AS dispatched FROM next`

/** Due deliveries, each leased by one replica: rows another replica is leasing are skipped. */
export const LEASE_SQL = `
  UPDATE deliveries SET lease_until = $2, attempts = attempts + 1
  WHERE id IN (
    SELECT id FROM deliveries
    WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
      AND destination = ANY($3)
    ORDER BY next_attempt_at, id LIMIT $4
    FOR UPDATE SKIP LOCKED)
  RETURNING id::float8 AS id, event_seq::float8 AS event_seq, destination, attempts`

/** Leases given back by a stopping forwarder, unless another replica took them over. */
export const RELEASE_SQL = `
  UPDATE deliveries AS d SET lease_until = NULL, attempts = d.attempts - 1
  FROM unnest($1::bigint[], $2::timestamptz[]) AS r (id, lease_until)
  WHERE d.id = r.id AND d.lease_until = r.lease_until`

export const RECORD_SQL = `
  UPDATE deliveries AS d SET status = r.status, last_status_code = r.code, last_error = r.error,
    next_attempt_at = r.next_at, delivered_at = CASE WHEN r.status = 'delivered' THEN r.at ELSE d.delivered_at END,
    lease_until = NULL
  FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::int[], $5::text[], $6::timestamptz[], $7::timestamptz[])
    AS r (id, lease_until, status, code, error, next_at, at)
  WHERE d.id = r.id AND d.lease_until = r.lease_until`
