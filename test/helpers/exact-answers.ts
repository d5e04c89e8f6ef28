import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import { queryOnce } from '../../bench/lib/postgres.js'
import type { Message, MessageQuery } from '../../src/storage/message-store.js'
import { expectedStats, referencePage } from './reference.js'

type Filters = Omit<MessageQuery, 'limit' | 'offset'>

/**
 * The messages a database holds, read behind the server's back: a SQLite file (checked
 * with PRAGMA integrity_check first) or a PostgreSQL URL.
 */
export async function storedMessages(fileOrUrl: string): Promise<Message[]> {
  const sql = 'SELECT message_id, from_msisdn, to_msisdn, ts, text FROM messages'
  let rows: Record<string, string | null>[]
  if (/^postgres(ql)?:/.test(fileOrUrl)) rows = (await queryOnce(fileOrUrl, sql)).rows
  else {
    const db = new Database(fileOrUrl, { readonly: true })
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
      rows = db.prepare(sql).all() as Record<string, string | null>[]
    } finally {
      db.close()
    }
  }
  return rows.map((r) => ({
    message_id: r.message_id as string,
    from: r.from_msisdn as string,
    to: r.to_msisdn as string,
    ts: r.ts as string,
    text: r.text ?? null,
  }))
}

/** /stats and a page of /messages per filter (besides these: none, a sender, two searches) equal a recomputation from `rows`. */
export async function checkExact(base: string, rows: Message[], filters: Filters[] = []): Promise<void> {
  const get = async (url: string) => (await (await fetch(`${base}${url}`)).json()) as Record<string, unknown>
  assert.deepEqual(await get('/stats'), expectedStats(rows))
  for (const query of [{}, { from: '+1' }, { q: 'words' }, { q: 'old' }, ...filters]) {
    const qs = new URLSearchParams(query as Record<string, string>).toString()
    const page = (await get(`/messages?limit=5&offset=2&${qs}`)) as { total: number; data: Message[] }
    assert.deepEqual(
      { total: page.total, ids: page.data.map((m) => m.message_id) },
      referencePage(rows, { ...query, limit: 5, offset: 2 }),
      qs,
    )
  }
}
