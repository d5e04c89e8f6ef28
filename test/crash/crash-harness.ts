import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { text as readText } from 'node:stream/consumers'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { signWebhookBody } from '../../src/sources/webhook/signature.js'
import { signWhatsAppBody } from '../../src/sources/whatsapp/signature.js'

/**
 * Crash harness for the promise "a 200 means what it acknowledged is committed": for POST
 * /webhook one message, for POST /webhooks/whatsapp every message and status of the batch
 * (and never half of a batch, acknowledged or not).
 *
 * Every cycle starts Inlet on the same SQLite file, drives it with concurrent signed
 * requests, SIGKILLs it at a random moment and then reads the file directly. A 200 only
 * counts once its whole body has been received, so whatever the harness calls
 * acknowledged, the server really did answer before it died.
 *
 * What SIGKILL proves: the answer is sent only after COMMIT has returned. It cannot prove
 * the fsync itself (the kernel's page cache survives a process kill); that part rests on
 * the store running WAL with synchronous=FULL.
 */

export interface CrashOptions {
  cycles: number
  /** Concurrent request loops per cycle. */
  concurrency: number
  log?: (line: string) => void
  /** The kill lands this long after the cycle's first 200 (uniform, in ms). */
  killAfterMs?: { min: number; max: number }
  /** What to send: single webhooks (the default) or WhatsApp batches. */
  traffic?: 'webhook' | 'whatsapp'
  /** More environment for the server (forwarding to a receiver, say). */
  env?: Record<string, string>
}

export interface CrashResult {
  cycles: number
  /** Distinct message_ids answered 200 on their first send (duplicates excluded). */
  acknowledged: number
  /** Rows verified against what was sent in the final check (acknowledged or not). */
  checked: number
  /** 200s for re-sends of acknowledged ids with different content. */
  duplicateAcks: number
  /** Requests that failed because the server was killed under them. */
  inFlightFailures: number
}

/** A webhook body exactly as sent; `text` absent and `text: null` are both exercised. */
interface SentMessage {
  message_id: string
  from: string
  to: string
  ts: string
  text?: string | null
}

interface StoredRow {
  message_id: string
  from_msisdn: string
  to_msisdn: string
  ts: string
  text: string | null
}

interface Ledger {
  /** First content sent for every id (ids are never reused for a different first send). */
  sent: Map<string, SentMessage>
  /** Ids answered 200 on their first send, with the cycle that acknowledged them. */
  acked: Map<string, number>
  ackedIds: string[]
  /** WhatsApp traffic: every batch first sent, its bytes, and whether it was answered 200. */
  batches: { raw: Buffer; messageIds: string[]; statuses: [string, string][]; ackedIn?: number }[]
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const READY_TIMEOUT_MS = 30_000
const FIRST_ACK_TIMEOUT_MS = 15_000
const EXIT_TIMEOUT_MS = 10_000
const REQUEST_TIMEOUT_MS = 10_000
const DRAIN_TIMEOUT_MS = 15_000
const START_ATTEMPTS = 3
const MAX_REPORTED = 20

const TEXTS: readonly (string | null | undefined)[] = [
  undefined, // key absent: stored as NULL
  null,
  '',
  'hello',
  'Olá, café crème — ñandú',
  'emoji 👋🏽 🇫🇷 👨‍👩‍👧‍👦 ✅',
  '日本語のテキスト 🍣',
  'quote " backslash \\ newline \n tab \t',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 astral plane 🀄',
]

function pick<T>(items: readonly T[]): T {
  return items[randomInt(items.length)] as T
}

function msisdn(): string {
  const digits = randomInt(1, 16)
  let out = '+'
  for (let i = 0; i < digits; i++) out += String(randomInt(10))
  return out
}

function timestamp(): string {
  const iso = new Date(randomInt(946_684_800, 2_000_000_000) * 1000).toISOString()
  // Mostly the plain form; sometimes a fraction, which must be stored exactly as sent.
  return randomInt(5) === 0 ? iso : `${iso.slice(0, 19)}Z`
}

function randomText(): string | null | undefined {
  if (randomInt(20) === 0) return '✉️ long '.repeat(500) // near the 4096 code-point cap
  return pick(TEXTS)
}

function newMessage(id: string): SentMessage {
  const message: SentMessage = { message_id: id, from: msisdn(), to: msisdn(), ts: timestamp() }
  const text = randomText()
  if (text !== undefined) message.text = text
  return message
}

/** Same id, different content: the stored row must stay the first one. */
function duplicateOf(original: SentMessage, n: number): SentMessage {
  return { ...original, to: msisdn(), text: `duplicate #${n} must not overwrite 🔁` }
}

function expectedRow(m: SentMessage): StoredRow {
  return { message_id: m.message_id, from_msisdn: m.from, to_msisdn: m.to, ts: m.ts, text: m.text ?? null }
}

function describe(value: unknown): string {
  const json = JSON.stringify(value)
  return json.length > 300 ? `${json.slice(0, 300)}…` : json
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const timer = new AbortController()
  try {
    return await Promise.race([
      promise,
      delay(ms, undefined, { signal: timer.signal }).then(() => {
        throw new Error(`timed out after ${ms} ms ${what}`)
      }),
    ])
  } finally {
    timer.abort()
  }
}

/** A port the kernel just considered free; a lost race shows up as EADDRINUSE and is retried. */
async function freePort(): Promise<number> {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/** Keeps the last lines of a stream for error reports, and keeps the pipe drained. */
class Tail {
  private lines: string[] = []
  private partial = ''
  constructor(stream: NodeJS.ReadableStream | null) {
    stream?.setEncoding('utf8')
    stream?.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n')
      this.partial = parts.pop() ?? ''
      this.lines.push(...parts)
      if (this.lines.length > 40) this.lines.splice(0, this.lines.length - 40)
    })
  }
  toString(): string {
    return [...this.lines, this.partial].filter((l) => l !== '').join('\n')
  }
}

class Server {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  private readonly stdout: Tail
  private readonly stderr: Tail
  private readonly killOnExit = () => this.child.kill('SIGKILL')

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.stdout = new Tail(child.stdout)
    this.stderr = new Tail(child.stderr)
    this.exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }))
    // If the harness itself dies, do not leave a server holding the file and the port.
    process.once('exit', this.killOnExit)
    void this.exited.then(() => process.off('exit', this.killOnExit))
  }

  static start(file: string, secret: string, port: number, extraEnv: Record<string, string>): Server {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      WEBHOOK_SECRET: secret,
      WHATSAPP_APP_SECRET: secret,
      DATABASE_URL: `sqlite:///${file}`, // file is absolute, so this is sqlite:////abs/path
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'INFO',
      ...extraEnv,
    }
    delete env.NODE_TEST_CONTEXT // set by `node --test`; the server is not a test file
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    return new Server(child, port)
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  output(): string {
    return `--- stdout (tail) ---\n${this.stdout}\n--- stderr (tail) ---\n${this.stderr}`
  }

  /** Polls GET /health/ready; resolves false if the process exits first. */
  async waitReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (!this.running) return false
      if ((await this.probe()) === 200) return true
      await delay(50)
    }
    throw new Error(`server on port ${this.port} not ready within ${timeoutMs} ms\n${this.output()}`)
  }

  private probe(): Promise<number | null> {
    return new Promise((resolve) => {
      const req = http.get(
        { host: '127.0.0.1', port: this.port, path: '/health/ready', agent: false, timeout: 2000 },
        (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? null))
          res.on('error', () => resolve(null))
        },
      )
      req.on('timeout', () => req.destroy())
      req.on('error', () => resolve(null))
    })
  }

  /** SIGKILL (only this child, by pid) and wait until it is gone. */
  async kill(): Promise<void> {
    if (this.running && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGKILL')
    await withTimeout(this.exited, EXIT_TIMEOUT_MS, `waiting for server pid ${this.child.pid} to exit`)
  }
}

/** Starts Inlet and waits for readiness, retrying on a fresh port if it dies first (port race). */
async function startReady(
  file: string,
  secret: string,
  label: string,
  env: Record<string, string> = {},
): Promise<Server> {
  for (let attempt = 1; ; attempt++) {
    const server = Server.start(file, secret, await freePort(), env)
    try {
      if (await server.waitReady(READY_TIMEOUT_MS)) return server
    } catch (error) {
      await server.kill()
      throw error
    }
    const { code, signal } = await server.exited
    const output = server.output()
    if (attempt < START_ATTEMPTS && output.includes('EADDRINUSE')) continue
    throw new Error(
      `${label}: Inlet exited before becoming ready (code ${code}, signal ${signal}) on the database ` +
        `left by the previous cycle\n${output}`,
    )
  }
}

interface Reply {
  status: number
  body: string
}

/** One signed request: its path, bytes and signature header. */
interface Outgoing {
  path: string
  body: Buffer
  headers: Record<string, string>
}

function webhookRequest(message: SentMessage, secret: string): Outgoing {
  const body = Buffer.from(JSON.stringify(message), 'utf8')
  return { path: '/webhook', body, headers: { 'x-signature': signWebhookBody(secret, body) } }
}

function post(agent: http.Agent, port: number, outgoing: Outgoing): Promise<Reply> {
  const { body } = outgoing
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: outgoing.path,
        agent,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        headers: { 'content-type': 'application/json', 'content-length': body.length, ...outgoing.headers },
      },
      (res) => {
        // readText rejects on a premature close, so a body cut off by the kill is not a 200.
        readText(res).then((text) => {
          if (res.complete) resolve({ status: res.statusCode ?? 0, body: text })
          else reject(new Error('response cut off'))
        }, reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

interface CycleStats {
  acknowledged: number
  duplicateAcks: number
  inFlightFailures: number
  killedAfterMs: number
}

async function runCycle(
  cycle: number,
  options: Required<Omit<CrashOptions, 'log' | 'cycles'>>,
  file: string,
  secret: string,
  ledger: Ledger,
  runId: string,
): Promise<CycleStats> {
  const label = `cycle ${cycle}`
  const server = await startReady(file, secret, label, options.env)
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency })
  const stats: CycleStats = { acknowledged: 0, duplicateAcks: 0, inFlightFailures: 0, killedAfterMs: 0 }
  const violations: string[] = []
  let killing = false
  let signalFirstAck: () => void = () => {}
  const firstAck = new Promise<void>((resolve) => {
    signalFirstAck = resolve
  })

  const whatsappWorker = async (w: number) => {
    for (let seq = 0; !killing; seq++) {
      // ~1 in 8 requests re-sends a batch already sent (possibly from an earlier cycle).
      const again = ledger.batches.length > 0 && randomInt(8) === 0
      const index = again ? randomInt(ledger.batches.length) : ledger.batches.length
      if (!again) ledger.batches.push(newBatch(`${runId}-c${cycle}-w${w}-${seq}`))
      const batch = ledger.batches[index] as Ledger['batches'][number]
      let reply: Reply
      try {
        reply = await post(agent, server.port, {
          path: '/webhooks/whatsapp',
          body: batch.raw,
          headers: { 'x-hub-signature-256': signWhatsAppBody(secret, batch.raw) },
        })
      } catch (error) {
        if (killing) {
          stats.inFlightFailures++
          return
        }
        violations.push(`request failed while the server was meant to be up: ${(error as Error).message}`)
        return
      }
      if (reply.status !== 200 || reply.body !== '{"status":"ok"}') {
        violations.push(`unexpected answer ${reply.status} ${describe(reply.body)} to a valid signed batch`)
        return
      }
      if (again) stats.duplicateAcks++
      else {
        batch.ackedIn = cycle
        stats.acknowledged += batch.messageIds.length
      }
      signalFirstAck()
    }
  }

  const worker = async (w: number) => {
    for (let seq = 0; !killing; seq++) {
      // ~1 in 8 requests re-sends an acknowledged id (possibly from an earlier cycle).
      const dup = ledger.ackedIds.length > 0 && randomInt(8) === 0
      let message: SentMessage
      if (dup) {
        const original = ledger.sent.get(pick(ledger.ackedIds)) as SentMessage
        message = duplicateOf(original, seq)
      } else {
        const flavour = randomInt(25) === 0 ? '-✉️日本' : '' // some non-ASCII ids
        message = newMessage(`${runId}-c${cycle}-w${w}-${seq}${flavour}`)
        ledger.sent.set(message.message_id, message)
      }
      let reply: Reply
      try {
        reply = await post(agent, server.port, webhookRequest(message, secret))
      } catch (error) {
        if (killing) {
          stats.inFlightFailures++
          return
        }
        violations.push(
          `request failed while the server was meant to be up: ${(error as Error).message} ` +
            `(message ${describe(message)})`,
        )
        return
      }
      if (reply.status !== 200 || reply.body !== '{"status":"ok"}') {
        violations.push(
          `unexpected answer ${reply.status} ${describe(reply.body)} to a valid signed ` +
            `${dup ? 'duplicate' : 'message'} ${describe(message)}`,
        )
        return
      }
      if (dup) {
        stats.duplicateAcks++
      } else {
        ledger.acked.set(message.message_id, cycle)
        ledger.ackedIds.push(message.message_id)
        stats.acknowledged++
      }
      signalFirstAck()
    }
  }

  let workers: Promise<void>[] = []
  try {
    const loop = options.traffic === 'whatsapp' ? whatsappWorker : worker
    workers = Array.from({ length: options.concurrency }, (_, w) => loop(w))
    const died = server.exited.then(({ code, signal }) => {
      throw new Error(`${label}: Inlet exited on its own under load (code ${code}, signal ${signal})`)
    })
    died.catch(() => {}) // only observed through the races below
    await withTimeout(
      Promise.race([firstAck, died]),
      FIRST_ACK_TIMEOUT_MS,
      `${label}: waiting for a first 200`,
    )
    // The only use of timing: where the kill lands relative to the traffic.
    stats.killedAfterMs = randomInt(options.killAfterMs.min, options.killAfterMs.max + 1)
    await Promise.race([delay(stats.killedAfterMs), died])
    killing = true
    await server.kill()
    await withTimeout(Promise.all(workers), DRAIN_TIMEOUT_MS, `${label}: waiting for requests to fail`)
  } catch (error) {
    if (error instanceof Error && violations.length > 0) error.message += `\n${violations.join('\n')}`
    if (error instanceof Error && !server.running) error.message += `\n${server.output()}`
    throw error
  } finally {
    killing = true
    await server.kill()
    await Promise.allSettled(workers)
    agent.destroy()
  }
  if (violations.length > 0) {
    throw new Error(
      `${label}: ${violations.length} bad answers:\n${violations.slice(0, MAX_REPORTED).join('\n')}`,
    )
  }
  return stats
}

/**
 * Reads the file with the server dead and checks every promise made so far. Returns the
 * number of rows compared.
 */
function verifyDatabase(file: string, ledger: Ledger, when: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    const problems: string[] = []
    const integrity = db.pragma('integrity_check', { simple: false }) as { integrity_check: string }[]
    const integrityLines = integrity.map((r) => r.integrity_check)
    if (integrityLines.length !== 1 || integrityLines[0] !== 'ok') {
      problems.push(`PRAGMA integrity_check: ${integrityLines.slice(0, MAX_REPORTED).join('; ')}`)
    }
    const repeated = db
      .prepare('SELECT message_id, COUNT(*) AS n FROM messages GROUP BY message_id HAVING COUNT(*) > 1')
      .all() as { message_id: string; n: number }[]
    for (const r of repeated) problems.push(`message_id ${describe(r.message_id)} is stored ${r.n} times`)

    const rows = db
      .prepare('SELECT message_id, from_msisdn, to_msisdn, ts, text FROM messages')
      .all() as StoredRow[]
    const stored = new Map(rows.map((r) => [r.message_id, r]))
    const fields = ['from_msisdn', 'to_msisdn', 'ts', 'text'] as const

    problems.push(...verifyBatches(db, ledger))
    for (const [id, cycle] of ledger.acked) {
      const expected = expectedRow(ledger.sent.get(id) as SentMessage)
      const row = stored.get(id)
      if (row === undefined) {
        problems.push(
          `LOST: message acknowledged with 200 in cycle ${cycle} is missing; sent ${describe(expected)}`,
        )
      }
    }
    const batchIds = new Set(ledger.batches.flatMap((b) => b.messageIds))
    for (const row of rows) {
      if (batchIds.has(row.message_id)) continue // checked by verifyBatches
      const sent = ledger.sent.get(row.message_id)
      if (sent === undefined) {
        problems.push(`row ${describe(row.message_id)} was never sent by the harness: ${describe(row)}`)
        continue
      }
      const expected = expectedRow(sent)
      for (const field of fields) {
        if (row[field] !== expected[field]) {
          const cycle = ledger.acked.get(row.message_id)
          const status = cycle === undefined ? 'not acknowledged' : `acknowledged in cycle ${cycle}`
          problems.push(
            `CHANGED: ${describe(row.message_id)} (${status}) has ${field}=${describe(row[field])}, ` +
              `first sent ${describe(expected[field])}`,
          )
        }
      }
    }
    if (problems.length > 0) {
      const shown = problems.slice(0, MAX_REPORTED).join('\n')
      const more = problems.length > MAX_REPORTED ? `\n… and ${problems.length - MAX_REPORTED} more` : ''
      throw new Error(`${when}: ${problems.length} violations in ${file}:\n${shown}${more}`)
    }
    return rows.length
  } finally {
    db.close()
  }
}

export async function runCrashCycles(options: CrashOptions): Promise<CrashResult> {
  const { cycles, concurrency } = options
  const log = options.log ?? (() => {})
  const killAfterMs = options.killAfterMs ?? { min: 100, max: 600 }
  if (!Number.isInteger(cycles) || cycles < 1) throw new RangeError(`cycles must be >= 1 (got ${cycles})`)
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be >= 1 (got ${concurrency})`)
  }

  const dir = await mkdtemp(path.join(tmpdir(), 'inlet-crash-'))
  const file = path.join(dir, 'app.db')
  const secret = randomBytes(24).toString('hex')
  const runId = randomBytes(4).toString('hex')
  const ledger: Ledger = { sent: new Map(), acked: new Map(), ackedIds: [], batches: [] }
  const result: CrashResult = {
    cycles: 0,
    acknowledged: 0,
    checked: 0,
    duplicateAcks: 0,
    inFlightFailures: 0,
  }
  try {
    for (let cycle = 1; cycle <= cycles; cycle++) {
      const traffic = options.traffic ?? 'webhook'
      const env = options.env ?? {}
      const stats = await runCycle(
        cycle,
        { concurrency, killAfterMs, traffic, env },
        file,
        secret,
        ledger,
        runId,
      )
      const rows = verifyDatabase(file, ledger, `after the SIGKILL of cycle ${cycle}`)
      result.cycles = cycle
      result.duplicateAcks += stats.duplicateAcks
      result.inFlightFailures += stats.inFlightFailures
      log(
        `cycle ${cycle}/${cycles}: killed ${stats.killedAfterMs} ms after the first 200; ` +
          `${stats.acknowledged} new acknowledged, ${stats.duplicateAcks} duplicate 200s, ` +
          `${stats.inFlightFailures} in flight at the kill; ${ledger.acked.size} acknowledged, ${rows} rows, all intact`,
      )
    }

    // The last kill must be recoverable too: start once more, stop gracefully, check again.
    const server = await startReady(file, secret, 'final restart', options.env)
    try {
      if (server.child.pid !== undefined) process.kill(server.child.pid, 'SIGTERM')
      const { code, signal } = await withTimeout(
        server.exited,
        EXIT_TIMEOUT_MS,
        'waiting for a SIGTERM shutdown',
      )
      if (code !== 0) {
        throw new Error(
          `final restart: SIGTERM shutdown ended with code ${code}, signal ${signal}\n${server.output()}`,
        )
      }
    } finally {
      await server.kill()
    }
    result.checked = verifyDatabase(file, ledger, 'after the final restart and graceful shutdown')
    result.acknowledged =
      ledger.acked.size +
      ledger.batches.filter((b) => b.ackedIn !== undefined).reduce((n, b) => n + b.messageIds.length, 0)
    return result
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const STATUS_ORDER = ['sent', 'delivered', 'read']

/**
 * A WhatsApp batch of fresh messages and statuses, serialized the way Meta does (non-ASCII
 * as \\uXXXX escapes, `/` as `\\/`), so the signature is over bytes a re-serialization would
 * change.
 */
function newBatch(prefix: string): Ledger['batches'][number] {
  const messageIds: string[] = []
  const statuses: [string, string][] = []
  const messages = Array.from({ length: randomInt(1, 20) }, (_, i) => {
    const id = `wamid.${prefix}-m${i}`
    messageIds.push(id)
    return {
      from: '16505551234',
      id,
      timestamp: '1749416383',
      type: 'text',
      text: { body: `Olá/ça ${i} 👋` },
    }
  })
  const items = Array.from({ length: randomInt(0, 20) }, (_, i) => {
    const status = STATUS_ORDER[i % 3] as string
    const id = `wamid.${prefix}-s${Math.floor(i / 3)}`
    statuses.push([id, status])
    return { id, status, timestamp: String(1749416400 + i), recipient_id: '16505551234' }
  })
  const envelope = {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '1',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '1' },
              messages,
              statuses: items,
            },
          },
        ],
      },
    ],
  }
  const json = JSON.stringify(envelope)
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replaceAll('/', '\\/')
  return { raw: Buffer.from(json), messageIds, statuses }
}

/** Every acknowledged batch is stored whole, and no batch is stored in part. */
function verifyBatches(db: Database.Database, ledger: Ledger): string[] {
  if (ledger.batches.length === 0) return []
  const problems: string[] = []
  const messages = new Set(db.prepare('SELECT message_id FROM messages').pluck().all() as string[])
  const statuses = new Set(
    (
      db.prepare('SELECT message_id, status FROM message_statuses').all() as {
        message_id: string
        status: string
      }[]
    ).map((r) => `${r.message_id} ${r.status}`),
  )
  for (const [n, batch] of ledger.batches.entries()) {
    const present =
      batch.messageIds.filter((id) => messages.has(id)).length +
      batch.statuses.filter(([id, status]) => statuses.has(`${id} ${status}`)).length
    const total = batch.messageIds.length + batch.statuses.length
    if (batch.ackedIn !== undefined && present !== total) {
      problems.push(
        `LOST: batch ${n}, acknowledged in cycle ${batch.ackedIn}, has ${present} of its ${total} items`,
      )
    } else if (present !== 0 && present !== total) {
      problems.push(`HALF: batch ${n} (not acknowledged) has ${present} of its ${total} items stored`)
    }
  }
  return problems
}
