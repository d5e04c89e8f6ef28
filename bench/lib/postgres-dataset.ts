import { randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'
import pg from 'pg'
import { PostgresMessageStore } from '../../src/storage/postgres/postgres-store.js'
import { progress } from './cli.js'
import { queryOnce } from './postgres.js'

// The PostgreSQL twin of a bench:data SQLite file: the same messages, stored through
// PostgresMessageStore.ingest (so counters, events and indexes are what webhooks leave), in
// a database of its own that later runs reuse and clone (CREATE DATABASE … TEMPLATE).

/** The database `url` names, replaced by `name`. */
export function databaseUrl(url: string, name: string): string {
  const other = new URL(url)
  other.pathname = `/${name}`
  return other.toString()
}

async function complete(url: string, rows: number): Promise<boolean> {
  const client = new pg.Client({ connectionString: url })
  try {
    await client.connect()
    const result = await client.query('SELECT rows FROM bench_dataset')
    return Number(result.rows[0]?.rows) === rows
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * The name and URL of a database holding every message of `sqliteFile`, built when missing
 * or incomplete (about a minute per million rows on 2 cores).
 */
export async function postgresDataset(
  serverUrl: string,
  sqliteFile: string,
): Promise<{ name: string; url: string }> {
  const source = new Database(sqliteFile, { readonly: true, fileMustExist: true })
  try {
    const total = source.prepare('SELECT COUNT(*) FROM messages').pluck().get() as number
    const name = `inlet_bench_${total}`
    const url = databaseUrl(serverUrl, name)
    if (await complete(url, total)) return { name, url }
    progress(`copying ${total.toLocaleString('en-US')} messages into the PostgreSQL database ${name} …`)
    await queryOnce(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await queryOnce(serverUrl, `CREATE DATABASE ${name}`)
    const store = await PostgresMessageStore.open({ url, poolMax: 4 })
    const started = performance.now()
    try {
      const select = source.prepare(
        'SELECT rowid, message_id, from_msisdn, to_msisdn, ts, text FROM messages WHERE rowid > ? ORDER BY rowid LIMIT 1000',
      )
      let after = 0
      let copied = 0
      const inFlight: Promise<unknown>[] = []
      for (;;) {
        const rows = select.all(after) as {
          rowid: number
          message_id: string
          from_msisdn: string
          to_msisdn: string
          ts: string
          text: string | null
        }[]
        if (rows.length === 0) break
        after = (rows.at(-1) as { rowid: number }).rowid
        const batch = rows.map((r) => ({
          message_id: r.message_id,
          from: r.from_msisdn,
          to: r.to_msisdn,
          ts: r.ts,
          text: r.text,
        }))
        inFlight.push(store.ingest({ messages: batch, statuses: [] }))
        // Two batches in flight: one commits while the next is sent.
        if (inFlight.length >= 2) await inFlight.shift()
        copied += batch.length
        if (copied % 100_000 === 0) progress(`  ${copied.toLocaleString('en-US')} …`)
      }
      await Promise.all(inFlight)
      // Every counter folded, as on a server that has been running: /stats is measured in its
      // steady state, not while a fresh copy catches up.
      while ((await store.foldCounters()) > 0) {}
    } finally {
      await store.close()
    }
    await queryOnce(url, 'VACUUM ANALYZE')
    await queryOnce(url, `CREATE TABLE bench_dataset AS SELECT ${total}::bigint AS rows`)
    progress(`  copied in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    return { name, url }
  } finally {
    source.close()
  }
}

/** A new database cloned from the dataset (a file copy, seconds), and how to drop it. */
export async function cloneDataset(
  serverUrl: string,
  sqliteFile: string,
  prefix: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const dataset = await postgresDataset(serverUrl, sqliteFile)
  // The dataset is migrated to this version first, so the clone does not run migrations
  // (ANALYZE of a million rows) at the server's start.
  await (await PostgresMessageStore.open({ url: dataset.url, foldIntervalMs: 0 })).close()
  const name = `${prefix}_${randomBytes(6).toString('hex')}`
  // FILE_COPY, then a checkpoint: the copy is on disk before the run starts. The default
  // (WAL_LOG) writes the whole database into the WAL, whose checkpoint then competed with the
  // run's commits for the disk (webhook latency in seconds).
  await queryOnce(serverUrl, `CREATE DATABASE ${name} TEMPLATE ${dataset.name} STRATEGY FILE_COPY`)
  await queryOnce(serverUrl, 'CHECKPOINT')
  return {
    url: databaseUrl(serverUrl, name),
    drop: async () => {
      await queryOnce(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    },
  }
}
