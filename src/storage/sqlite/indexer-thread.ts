// The indexer thread: keeps the search index (its own database file, search-index.ts) up
// with the committed messages. It reads new rows on a read-only connection to the messages
// and writes the index on the only connection that writes the index file, at a lower
// priority than the threads that answer and commit webhooks. Neither its FTS5 merges nor
// its fsyncs touch the messages' write lock.
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { foldCase } from '../../domain/text-search.js'
import { openReadConnection } from './connection.js'
import { hold } from './hold.js'
import { prepareSearchIndex } from './search-index.js'

export interface IndexerThreadData {
  file: string
  searchFile: string
  /** Follow new rows by itself; tests turn it off to make reads meet a tail. */
  following: boolean
}

export type IndexerRequest =
  /** Index every committed row now, then answer (after a bulk load). */
  | { kind: 'catch-up'; id: number }
  | { kind: 'close' }
  /** Fault injection for tests: count in `gate[1]`, then block until `gate[0]` is non-zero. */
  | { kind: 'hold'; id: number; gate: Int32Array }

export type IndexerReply = { kind: 'ready' } | { kind: 'done'; id: number; error?: string }

/** How often the indexer looks for new rows when it has caught up. */
const POLL_MS = 25
/** Rows per transaction: off the write path, so a chunk may take a while. */
const CHUNK_ROWS = 2000
/** After a failed chunk (disk full, say), wait this long before the next try. */
const RETRY_MS = 1000
/** Below the threads that answer HTTP and commit webhooks. */
const INDEXER_NICE = 10

const { file, searchFile, following } = workerData as IndexerThreadData
try {
  setPriority(INDEXER_NICE)
} catch {
  // Not permitted here: indexing still works, at normal priority.
}
const port = parentPort as NonNullable<typeof parentPort>
const messages = openReadConnection(file)
const index = new Database(searchFile, { timeout: 5000 })
index.pragma('journal_mode = WAL')
// Derived data: a crash may lose the last chunks (their progress mark with them), never
// consistency, and they are indexed again from the messages.
index.pragma('synchronous = NORMAL')

const latest = messages.prepare('SELECT MAX(rowid) FROM messages').pluck()
const owner = messages.prepare('SELECT store_id FROM store_meta WHERE id = 1').pluck().get() as string
let indexedUpTo = prepareSearchIndex(index, owner, (latest.get() as number | null) ?? 0)
const newRows = messages
  .prepare('SELECT rowid, text FROM messages WHERE rowid > ? AND rowid <= ? AND text IS NOT NULL')
  .raw()
const add = index.prepare('INSERT INTO messages_search (rowid, body) VALUES (?, ?)')
const saveProgress = index.prepare('UPDATE search_progress SET indexed_rowid = ? WHERE id = 1')
const addChunk = index.transaction((rows: [number, string][], upTo: number) => {
  for (const [rowid, text] of rows) add.run(rowid, foldCase(text))
  saveProgress.run(upTo)
})

/** Adds up to CHUNK_ROWS committed rows; returns whether more are waiting. */
function indexChunk(): boolean {
  const newest = (latest.get() as number | null) ?? 0
  if (newest <= indexedUpTo) return false
  const upTo = Math.min(newest, indexedUpTo + CHUNK_ROWS)
  addChunk(newRows.all(indexedUpTo, upTo) as [number, string][], upTo)
  indexedUpTo = upTo
  return upTo < newest
}

let timer: NodeJS.Timeout | undefined
let closed = false

function step(): void {
  timer = undefined
  if (closed) return
  try {
    timer = setTimeout(step, indexChunk() ? 0 : POLL_MS)
  } catch {
    // Busy or failing: reads stay exact meanwhile (they test the rows not yet indexed).
    timer = setTimeout(step, RETRY_MS)
  }
}

port.on('message', (request: IndexerRequest) => {
  switch (request.kind) {
    case 'catch-up':
      try {
        while (indexChunk());
        port.postMessage({ kind: 'done', id: request.id } satisfies IndexerReply)
      } catch (error) {
        port.postMessage({ kind: 'done', id: request.id, error: String(error) } satisfies IndexerReply)
      }
      return
    case 'hold':
      hold(request.gate)
      port.postMessage({ kind: 'done', id: request.id } satisfies IndexerReply)
      return
    case 'close':
      closed = true
      clearTimeout(timer)
      index.close()
      messages.close()
      port.close()
      return
  }
})
port.postMessage({ kind: 'ready' } satisfies IndexerReply)
if (following) step()
