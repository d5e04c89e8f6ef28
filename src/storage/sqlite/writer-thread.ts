// The writer thread: the only connection that writes. It commits message batches (group
// commit), keeps the counters in the same transactions, and between batches adds committed
// rows to the search and sender indexes in chunks short enough that a batch arriving
// meanwhile waits a few milliseconds at most. Nothing here runs on the thread that answers
// HTTP, so neither an fsync nor an index chunk ever delays a request being parsed.
import { type MessagePort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import { openWriteConnection } from './connection.js'
import { openForwardDatabase } from './forward-database.js'
import { hold } from './hold.js'
import { describeError, MessageWriter } from './message-writer.js'
import { migrate } from './migrations.js'
import type { InsertUnit, WriterReply, WriterRequest } from './protocol.js'

export interface WriterThreadData {
  port: MessagePort
  file: string
  busyTimeoutMs: number
  maxBatchRows: number
  /** Index committed rows in the background; tests turn it off to make reads meet a tail. */
  indexing: boolean
}

/** How soon after a commit new rows are indexed: batches of webhooks index together. */
const INDEX_DELAY_MS = 25
/** After a failed index chunk (busy, disk full), wait this long before the next try. */
const INDEX_RETRY_MS = 1000
/** What one index chunk may take; its row count adapts to the measured rate. */
const INDEX_CHUNK_MS = 2
const INDEX_CHUNK_MIN_ROWS = 16
const INDEX_CHUNK_MAX_ROWS = 4096

const data = workerData as WriterThreadData
const port = data.port
const clock = () => new Date()
const db = openWriteConnection(data.file, data.busyTimeoutMs)
migrate(db, clock)
const writer = new MessageWriter(db, clock)
// The deliveries' file exists (its schema made) before readers attach it; the forwarder
// thread writes it (forward-database.ts).
openForwardDatabase(
  data.file,
  db.prepare('SELECT store_id FROM store_meta WHERE id = 1').pluck().get() as string,
  db.prepare('SELECT coalesce(max(seq), 0) FROM events').pluck().get() as number,
  data.busyTimeoutMs,
).close()

const reply = (message: WriterReply) => port.postMessage(message)
const queue: WriterRequest[] = []
let indexTimer: NodeJS.Timeout | undefined
let chunkRows = 256
let closed = false

/** Takes every message already waiting: what arrived during the last commit joins one batch. */
function drain(): void {
  for (let next = receiveMessageOnPort(port); next !== undefined; next = receiveMessageOnPort(port)) {
    queue.push(next.message as WriterRequest)
  }
}

function processQueue(): void {
  while (queue.length > 0 && !closed) {
    if (queue[0]?.kind === 'insert') commitInserts()
    else handle(queue.shift() as WriterRequest)
  }
}

/** Consecutive insert messages, up to the batch bound in rows, in one transaction. */
function commitInserts(): void {
  const batches: { batch: number; size: number }[] = []
  const units: InsertUnit[] = []
  let rows = 0
  for (let next = queue[0]; next?.kind === 'insert'; next = queue[0]) {
    const size = next.units.reduce((sum, u) => sum + u.messages.length + u.statuses.length, 0)
    if (rows > 0 && rows + size > data.maxBatchRows) break
    queue.shift()
    batches.push({ batch: next.batch, size: next.units.length })
    for (const unit of next.units) units.push(unit)
    rows += size
  }
  let outcomes: ReturnType<MessageWriter['commit']>
  try {
    outcomes = writer.commit(units)
  } catch (error) {
    const { code, message } = describeError(error)
    for (const { batch } of batches) reply({ kind: 'insert-failed', batch, code, message })
    return
  }
  let at = 0
  for (const { batch, size } of batches) {
    reply({
      kind: 'inserted',
      batch,
      outcomes: outcomes.slice(at, at + size),
      transactions: writer.transactions,
    })
    at += size
  }
}

function handle(request: WriterRequest): void {
  switch (request.kind) {
    case 'health':
      reply({ kind: 'health', id: request.id, ...writer.health() })
      return
    case 'rebuild':
      answer(request.id, () => writer.rebuild())
      return
    case 'delete':
      answer(request.id, () => writer.delete(request.target))
      return
    case 'forget-purged':
      try {
        writer.forgetPurged(request.upTo)
      } catch {
        // Busy or failing: the notes stay, and the next purge round sends a later mark.
      }
      return
    case 'prune-tombstones':
      answer(request.id, () => writer.pruneTombstones(new Date(request.beforeMs)))
      return
    case 'rewind':
      // The upkeep thread has just copied a long WAL: copy the few frames added since (they
      // wait behind no batch: this runs between batches), so that the next transaction
      // starts the WAL over from its beginning (upkeep-thread.ts).
      try {
        db.pragma('wal_checkpoint(PASSIVE)')
      } catch {
        // Busy or failing: the upkeep thread asks again after its next round.
      }
      return
    case 'pragma':
      answer(request.id, () => db.pragma(request.pragma))
      return
    case 'hold':
      hold(request.gate)
      reply({ kind: 'done', id: request.id })
      return
    case 'close':
      closed = true
      clearTimeout(indexTimer)
      db.close()
      reply({ kind: 'closed' })
      port.close() // nothing else keeps the thread alive: it ends
      return
    case 'insert':
      return // batched by commitInserts
  }
}

function answer(id: number, run: () => unknown): void {
  try {
    reply({ kind: 'done', id, result: run() })
  } catch (error) {
    reply({ kind: 'done', id, error: describeError(error) })
  }
}

function scheduleIndexing(delayMs: number): void {
  if (indexTimer !== undefined || closed || !data.indexing) return
  indexTimer = setTimeout(indexStep, delayMs)
}

/**
 * One chunk of index upkeep, after whatever messages are waiting: batches always go first.
 * The chunk's size follows the measured rate so that it takes about INDEX_CHUNK_MS.
 */
function indexStep(): void {
  indexTimer = undefined
  drain()
  processQueue()
  if (closed) return
  try {
    const started = performance.now()
    const indexed = writer.indexPending(chunkRows)
    const elapsed = performance.now() - started
    if (indexed === chunkRows && elapsed > 0) {
      const fit = Math.round((indexed * INDEX_CHUNK_MS) / elapsed)
      chunkRows = Math.min(INDEX_CHUNK_MAX_ROWS, Math.max(INDEX_CHUNK_MIN_ROWS, fit))
    }
    if (writer.unindexedRows() > 0) scheduleIndexing(0)
  } catch {
    // Busy or failing: reads stay exact meanwhile (they test the rows not yet indexed).
    scheduleIndexing(INDEX_RETRY_MS)
  }
}

port.on('message', (message: WriterRequest) => {
  queue.push(message)
  drain()
  processQueue()
  scheduleIndexing(INDEX_DELAY_MS)
})
reply({ kind: 'ready' })
scheduleIndexing(0) // rows from before the indexes existed, or from a bulk load
