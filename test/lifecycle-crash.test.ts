import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { signWebhookBody } from '../src/sources/webhook/signature.js'
import type { Message } from '../src/storage/message-store.js'
import { checkExact, storedMessages } from './helpers/exact-answers.js'
import { type ServerProcess, startServer, waitForHttp } from './helpers/server-process.js'
import { SECRET, tempDir } from './helpers/test-app.js'
import { freshSchema, POSTGRES_SKIP_REASON } from './helpers/test-database.js'

// SIGKILL in the middle of an erasure and of a retention run, on the real process: after a
// restart every derived number (counters, first/last, the indexes' answers) equals a
// recomputation from the rows left, and asking again finishes the job.

const ADMIN = { authorization: 'Bearer admin-token' }
const TARGET = '+4400'
const OLD_TS = '2020-01-01T00:00:00Z'

async function post(base: string, body: Message): Promise<number> {
  const raw = Buffer.from(JSON.stringify(body))
  const response = await fetch(`${base}/webhook`, {
    method: 'POST',
    body: raw,
    headers: { 'content-type': 'application/json', 'x-signature': signWebhookBody(SECRET, raw) },
  })
  await response.arrayBuffer()
  return response.status
}

async function metric(base: string, series: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

async function start(
  url: string,
  env: Record<string, string> = {},
): Promise<ServerProcess & { base: string }> {
  const server = await startServer({
    DATABASE_URL: url,
    WEBHOOK_SECRET: SECRET,
    ADMIN_TOKEN: 'admin-token',
    ...env,
  })
  const base = `http://127.0.0.1:${server.port}`
  await waitForHttp(`${base}/health/live`)
  return { ...server, base }
}

/** Kills the server as soon as `series` has counted some deletions (mid-way, not before). */
async function killWhenDeleting(server: ServerProcess & { base: string }, series: string): Promise<number> {
  for (let i = 0; ; i++) {
    const deleted = await metric(server.base, series)
    if (deleted > 0) {
      server.child.kill('SIGKILL')
      await server.exited
      return deleted
    }
    if (i > 2000) throw new Error(`${series} never moved`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

const kinds = [
  { kind: 'sqlite', skip: false as const },
  { kind: 'postgres', skip: POSTGRES_SKIP_REASON ?? (false as const) },
]

for (const { kind, skip } of kinds) {
  test(`${kind}: SIGKILL during an erasure and during retention leaves every derived number exact; asking again finishes`, {
    skip,
    timeout: 180_000,
  }, async (t) => {
    let server: (ServerProcess & { base: string }) | undefined
    const stop = async () => {
      server?.child.kill('SIGKILL')
      await server?.exited
    }
    let url: string
    let file: string | undefined
    if (kind === 'sqlite') {
      file = path.join(tempDir(t, stop), 'app.db')
      url = `sqlite:///${file}`
    } else url = (await freshSchema(t, stop)).url
    const rowsNow = () => storedMessages(file ?? url)
    server = await start(url)
    const messages: Message[] = []
    for (let i = 0; i < 8000; i++) {
      const target = i % 2 === 0
      messages.push({
        message_id: `c-${i}`,
        from: target ? TARGET : `+${1 + (i % 5)}`,
        to: '+9',
        ts: target || i % 4 === 1 ? new Date(Date.now() - (i % 9) * 86_400_000).toISOString() : OLD_TS,
        text: i % 3 === 0 ? null : i % 4 === 1 ? 'new words' : 'old words',
      })
    }
    for (let i = 0; i < messages.length; i += 100) {
      const statuses = await Promise.all(
        messages.slice(i, i + 100).map((m) => post(server?.base as string, m)),
      )
      assert.ok(statuses.every((s) => s === 200))
    }

    // An erasure, killed part-way.
    const erasure = fetch(`${server.base}/messages?from=${encodeURIComponent(TARGET)}`, {
      method: 'DELETE',
      headers: ADMIN,
    }).catch(() => 'killed')
    const erased = await killWhenDeleting(server, 'messages_deleted_total{reason="erasure"}')
    assert.equal(await erasure, 'killed')
    server = await start(url)
    let rows = await rowsNow()
    const left = rows.filter((m) => m.from === TARGET).length
    t.diagnostic(`erasure killed after ${erased} counted; ${4000 - left} of 4000 gone, ${left} left`)
    assert.ok(left > 0 && left < 4000, `killed mid-way (${left} left)`)
    await checkExact(server.base, rows, [{ from: TARGET }, { since: OLD_TS }])
    const again = await fetch(`${server.base}/messages?from=${encodeURIComponent(TARGET)}`, {
      method: 'DELETE',
      headers: ADMIN,
    })
    assert.deepEqual(await again.json(), { deleted: left })
    await server.child.kill('SIGKILL')
    await server.exited

    // A retention run (the messages of 2020 are old), killed part-way.
    server = await start(url, { RETENTION_DAYS: '365', RETENTION_CHUNK_ROWS: '40', RETENTION_PAUSE_MS: '5' })
    await killWhenDeleting(server, 'messages_deleted_total{reason="retention"}')
    server = await start(url)
    rows = await rowsNow()
    const oldLeft = rows.filter((m) => m.ts === OLD_TS).length
    t.diagnostic(`retention killed with ${oldLeft} of 2000 old messages left`)
    assert.ok(oldLeft > 0 && oldLeft < 2000, `killed mid-way (${oldLeft} left)`)
    await checkExact(server.base, rows, [{ from: TARGET }, { since: OLD_TS }])
    await server.child.kill('SIGKILL')
    await server.exited

    // The next run finishes it.
    server = await start(url, { RETENTION_DAYS: '365' })
    for (
      let i = 0;
      (await metric(server.base, 'messages_deleted_total{reason="retention"}')) < oldLeft;
      i++
    ) {
      if (i > 600) throw new Error('retention never finished')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    rows = await rowsNow()
    assert.equal(rows.length, 2000)
    await checkExact(server.base, rows, [{ from: TARGET }, { since: OLD_TS }])
  })
}
