// The upkeep thread: the background work of the SQLite adapter, at a lower priority than the
// threads that answer and commit webhooks, so that on one core it uses spare CPU.
//
// - The search index (its own database file, search-index.ts): new committed rows are read
//   on a read-only connection to the messages and added on the only connection that writes
//   the index file, and deleted rows (noted in search_purge) dropped from it. Neither its
//   FTS5 merges nor its fsyncs touch the messages' write lock.
// - Checkpoints: the WAL of the messages is copied back into the database file (and
//   fsynced) every few milliseconds on a connection of its own, so that work never lands
//   inside a COMMIT that webhooks wait for. In WAL mode a PASSIVE checkpoint runs alongside
//   the writer without taking its lock.
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { foldCase } from '../../domain/text-search.js'
import { openReadConnection } from './connection.js'
import { hold } from './hold.js'
import { prepareSearchIndex } from './search-index.js'

export interface UpkeepThreadData {
  file: string
  searchFile: string
  /** Follow new rows by itself; tests turn it off to make reads meet a tail. */
  following: boolean
  checkpointIntervalMs: number
}

export type UpkeepRequest =
  /** Index every committed row now, then answer (after a bulk load). */
  | { kind: 'catch-up'; id: number }
  | { kind: 'close' }
  /** Fault injection for tests: count in `gate[1]`, then block until `gate[0]` is non-zero. */
  | { kind: 'hold'; id: number; gate: Int32Array }

export type UpkeepReply =
  | { kind: 'ready' }
  | { kind: 'done'; id: number; error?: string }
  /** The WAL is long and copied up to now: the store asks the writer to rewind it. */
  | { kind: 'rewind' }
  /** The index has dropped the deleted rows noted up to `upTo` (the messages' search_purge). */
  | { kind: 'purged'; upTo: number }

/** How often the indexer looks for new rows when it has caught up. */
const INDEX_POLL_MS = 25
/** Rows per transaction: off the write path, so a chunk may take a while. */
const INDEX_CHUNK_ROWS = 2000
/** After a failed chunk (disk full, say), wait this long before the next try. */
const RETRY_MS = 1000
/** Below the threads that answer HTTP and commit webhooks. */
const UPKEEP_NICE = 10
/**
 * WAL frames (4 KiB pages) from which the writer is asked to rewind the WAL: 16 MiB. Under
 * steady traffic the checkpoints never find the WAL completely copied (the writer appends
 * while they copy), and only a transaction that starts after a complete checkpoint starts
 * the WAL over from its beginning. Without that the WAL grew by 25 MiB/s at 1,000
 * webhooks/s, and SQLite's own checkpoint inside a COMMIT stalled it for 50-100 ms. So
 * when a round has copied a long WAL up to its end, the writer copies the few frames
 * added since, between two batches (writer-thread.ts), and its next transaction rewinds.
 */
const REWIND_WAL_FRAMES = 4000

const { file, searchFile, following, checkpointIntervalMs } = workerData as UpkeepThreadData
try {
  setPriority(UPKEEP_NICE)
} catch {
  // Not permitted here: the work still gets done, at normal priority.
}
const port = parentPort as NonNullable<typeof parentPort>
const reply = (message: UpkeepReply) => port.postMessage(message)

const messages = openReadConnection(file)
const index = new Database(searchFile, { timeout: 5000 })
index.pragma('journal_mode = WAL')
// Derived data: a crash may lose the last chunks (their progress mark with them), never
// consistency, and they are indexed again from the messages.
index.pragma('synchronous = NORMAL')
const checkpoints = new Database(file, { timeout: 1000 })
checkpoints.pragma('synchronous = FULL')

const latest = messages.prepare('SELECT MAX(rowid) FROM messages').pluck()
const meta = messages
  .prepare(
    `SELECT store_id, max_rowid,
       (SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'search_purge') AS noted
     FROM store_meta WHERE id = 1`,
  )
  .get() as { store_id: string; max_rowid: number; noted: number }
let indexedUpTo = prepareSearchIndex(
  index,
  meta.store_id,
  Math.max(meta.max_rowid, (latest.get() as number | null) ?? 0),
  meta.noted,
)
let purgedUpTo = index.prepare('SELECT purged_seq FROM search_progress WHERE id = 1').pluck().get() as number
const purgeNotes = messages
  .prepare('SELECT seq, row FROM search_purge WHERE seq > ? ORDER BY seq LIMIT ?')
  .raw()
const drop = index.prepare('DELETE FROM messages_search WHERE rowid = ?')
const savePurged = index.prepare('UPDATE search_progress SET purged_seq = ? WHERE id = 1')
const purgeChunk = index.transaction((notes: [number, number][]) => {
  for (const [, row] of notes) drop.run(row)
  savePurged.run((notes.at(-1) as [number, number])[0])
})
const newRows = messages
  .prepare('SELECT rowid, text FROM messages WHERE rowid > ? AND rowid <= ? AND text IS NOT NULL')
  .raw()
const add = index.prepare('INSERT INTO messages_search (rowid, body) VALUES (?, ?)')
const saveProgress = index.prepare('UPDATE search_progress SET indexed_rowid = ? WHERE id = 1')
const addChunk = index.transaction((rows: [number, string][], upTo: number) => {
  for (const [rowid, text] of rows) add.run(rowid, foldCase(text))
  saveProgress.run(upTo)
})

/** Adds up to INDEX_CHUNK_ROWS committed rows; returns whether more are waiting. */
function indexChunk(): boolean {
  const newest = (latest.get() as number | null) ?? 0
  if (newest <= indexedUpTo) return false
  const upTo = Math.min(newest, indexedUpTo + INDEX_CHUNK_ROWS)
  addChunk(newRows.all(indexedUpTo, upTo) as [number, string][], upTo)
  indexedUpTo = upTo
  return upTo < newest
}

/**
 * Drops up to INDEX_CHUNK_ROWS deleted rows from the index (a row deleted before it was
 * indexed is simply not there), then tells the store, whose writer forgets those notes.
 * Returns whether more are waiting.
 */
function purgeDeleted(): boolean {
  const notes = purgeNotes.all(purgedUpTo, INDEX_CHUNK_ROWS) as [number, number][]
  if (notes.length === 0) return false
  purgeChunk(notes)
  purgedUpTo = (notes.at(-1) as [number, number])[0]
  reply({ kind: 'purged', upTo: purgedUpTo })
  return notes.length === INDEX_CHUNK_ROWS
}

function checkpoint(): void {
  try {
    const [round] = checkpoints.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[]
    if (round !== undefined && round.log >= REWIND_WAL_FRAMES && round.checkpointed === round.log) {
      reply({ kind: 'rewind' })
    }
  } catch {
    // Busy or failing: simply retried at the next tick; the WAL keeps every commit.
  }
}

let indexTimer: NodeJS.Timeout | undefined
let closed = false

function indexStep(): void {
  indexTimer = undefined
  if (closed) return
  try {
    const more = purgeDeleted() || indexChunk()
    indexTimer = setTimeout(indexStep, more ? 0 : INDEX_POLL_MS)
  } catch {
    // Busy or failing: reads stay exact meanwhile (they test the rows not yet indexed).
    indexTimer = setTimeout(indexStep, RETRY_MS)
  }
}
const checkpointTimer = setInterval(checkpoint, checkpointIntervalMs)

port.on('message', (request: UpkeepRequest) => {
  switch (request.kind) {
    case 'catch-up':
      try {
        while (purgeDeleted() || indexChunk());
        reply({ kind: 'done', id: request.id })
      } catch (error) {
        reply({ kind: 'done', id: request.id, error: String(error) })
      }
      return
    case 'hold':
      hold(request.gate)
      reply({ kind: 'done', id: request.id })
      return
    case 'close':
      closed = true
      clearTimeout(indexTimer)
      clearInterval(checkpointTimer)
      index.close()
      messages.close()
      // Last of all the store's connections to the messages: it checkpoints them and
      // removes the WAL, so the file left behind is complete on its own.
      checkpoint()
      checkpoints.close()
      port.close()
      return
  }
})
reply({ kind: 'ready' })
if (following) indexStep()
