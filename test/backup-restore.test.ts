import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { queryOnce } from '../bench/lib/postgres.js'
import { signWebhookBody } from '../src/sources/webhook/signature.js'
import { runCli } from './helpers/cli.js'
import { startServer, waitForHttp } from './helpers/server-process.js'
import { message, SECRET, tempDir } from './helpers/test-app.js'
import { freshSchema, POSTGRES_SKIP_REASON, TEST_DATABASE_URL } from './helpers/test-database.js'

// Backups and restores, as the README tells an operator to make them: real server processes,
// the inlet command or pg_dump, and every read answered the same after the restore.

type Server = Awaited<ReturnType<typeof startServer>>

async function serve(databaseUrl: string): Promise<{ server: Server; base: string }> {
  const server = await startServer({ WEBHOOK_SECRET: SECRET, DATABASE_URL: databaseUrl, ADMIN_TOKEN: 'a' })
  const base = `http://127.0.0.1:${server.port}`
  for (let i = 0; (await waitForHttp(`${base}/health/ready`)).status !== 200; i++) {
    assert.ok(i < 200, `not ready: ${server.output().join('\n')}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { server, base }
}

async function stop(server: Server): Promise<void> {
  server.child.kill('SIGTERM')
  assert.equal(await server.exited, 0)
}

async function send(base: string, body: Record<string, unknown>): Promise<void> {
  const raw = Buffer.from(JSON.stringify(body))
  const response = await fetch(`${base}/webhook`, {
    method: 'POST',
    body: raw,
    headers: { 'content-type': 'application/json', 'x-signature': signWebhookBody(SECRET, raw) },
  })
  assert.equal(response.status, 200)
}

/** Thirty messages from three senders, a third of them mentioning an order. */
async function fill(base: string, prefix: string): Promise<void> {
  for (let i = 0; i < 30; i++) {
    await send(
      base,
      message({
        message_id: `${prefix}-${i}`,
        from: `+1555000${i % 3}`,
        ts: `2025-01-${String(10 + (i % 7)).padStart(2, '0')}T10:00:${String(i).padStart(2, '0')}Z`,
        text: i % 3 === 0 ? `Where is my order ${i}?` : i % 5 === 0 ? null : `message ${i}`,
      }),
    )
  }
}

/** Every read's answer, as bytes. */
async function answers(base: string): Promise<Record<string, string>> {
  const paths = [
    '/messages?limit=100',
    '/messages?limit=7&offset=7',
    '/messages?q=ORDER',
    '/messages?from=%2B15550001&since=2025-01-12T00:00:00Z',
    '/stats',
    '/events?limit=1000',
    '/export?format=ndjson',
    '/export?format=csv&q=order',
  ]
  const out: Record<string, string> = {}
  for (const url of paths) {
    const response = await fetch(`${base}${url}`)
    assert.equal(response.status, 200, url)
    out[url] = await response.text()
  }
  return out
}

test('SQLite: inlet backup of a live database, restored in place, answers every read as before', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'app.db')
  const url = `sqlite:///${file}`
  const first = await serve(url)
  t.after(() => first.server.child.kill('SIGKILL'))
  await fill(first.base, 'kept')
  const before = await answers(first.base)
  const copy = path.join(dir, 'backup.db')
  const backup = await runCli(['backup', '--database', url, '--out', copy])
  assert.equal(backup.code, 0, backup.stderr)
  assert.match(backup.stdout, /^backup: 30 messages, \d+ bytes → /)
  // Written after the backup: gone with the restore. Deleted after it (an erasure, whose
  // rows the search index then drops): back with the restore, and found by a search.
  await fill(first.base, 'lost')
  const erased = await fetch(`${first.base}/messages?from=%2B15550000`, {
    method: 'DELETE',
    headers: { authorization: 'Bearer a' },
  })
  assert.deepEqual(await erased.json(), { deleted: 20 })
  await new Promise((resolve) => setTimeout(resolve, 200)) // the search index's purge
  const afterErasure = (await (await fetch(`${first.base}/messages?q=ORDER`)).json()) as { total: number }
  assert.equal(afterErasure.total, 0)
  await stop(first.server)

  // The README's restore: the copy in place of app.db, without the replaced file's WAL.
  rmSync(`${file}-wal`, { force: true })
  rmSync(`${file}-shm`, { force: true })
  copyFileSync(copy, file)
  const second = await serve(url)
  t.after(() => second.server.child.kill('SIGKILL'))
  assert.deepEqual(await answers(second.base), before)
  // And it goes on: a new message is stored and is the feed's next event.
  await send(second.base, message({ message_id: 'after-restore' }))
  const feed = (await (await fetch(`${second.base}/events?limit=1000`)).json()) as {
    data: { id: string; data: { message_id: string } }[]
  }
  assert.equal(feed.data.length, 31)
  assert.deepEqual(feed.data.at(-1)?.data.message_id, 'after-restore')
  assert.notEqual(JSON.parse(before['/messages?q=ORDER'] as string).total, 0)
  await stop(second.server)
})

const pgDumpMissing = spawnSync('pg_dump', ['--version']).error !== undefined
test('PostgreSQL: pg_dump of the schema, pg_restore into a new database, answers every read as before', {
  skip: POSTGRES_SKIP_REASON ?? (pgDumpMissing ? 'pg_dump is not installed here' : undefined),
}, async (t) => {
  const { schema, url } = await freshSchema(t)
  const first = await serve(url)
  t.after(() => first.server.child.kill('SIGKILL'))
  await fill(first.base, 'kept')
  const before = await answers(first.base)
  const dump = path.join(tempDir(t), 'inlet.dump')
  const server = new URL(TEST_DATABASE_URL as string)
  const run = (command: string, args: string[]) => {
    const result = spawnSync(command, args, { encoding: 'utf8' })
    assert.equal(result.status, 0, `${command}: ${result.stderr}`)
  }
  // The README's commands: the schema Inlet uses, in pg_dump's custom format.
  run('pg_dump', ['--format=custom', `--schema=${schema}`, `--file=${dump}`, server.toString()])
  await stop(first.server)

  const database = `inlet_restore_${randomBytes(4).toString('hex')}`
  await queryOnce(server.toString(), `CREATE DATABASE ${database}`)
  t.after(() => queryOnce(server.toString(), `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
  const restored = new URL(server)
  restored.pathname = `/${database}`
  // pg_trgm lives outside the schema: the new database needs it before the restore.
  await queryOnce(restored.toString(), 'CREATE EXTENSION pg_trgm')
  run('pg_restore', ['--no-owner', `--dbname=${restored.toString()}`, dump])
  const restoredUrl = new URL(url)
  restoredUrl.pathname = `/${database}`
  const second = await serve(restoredUrl.toString())
  t.after(() => second.server.child.kill('SIGKILL'))
  assert.deepEqual(await answers(second.base), before)
  await send(second.base, message({ message_id: 'after-restore' }))
  const stats = (await (await fetch(`${second.base}/stats`)).json()) as { total_messages: number }
  assert.equal(stats.total_messages, 31)
  await stop(second.server)
})
