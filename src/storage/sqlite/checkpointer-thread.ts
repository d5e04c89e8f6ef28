// The background checkpointer: copies the WAL back into the database file (and fsyncs it)
// on its own connection, so that work never lands inside a COMMIT that webhooks wait for.
// In WAL mode a PASSIVE checkpoint runs alongside the writer without taking its lock.
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'

export interface CheckpointerThreadData {
  file: string
  intervalMs: number
}

/** What this thread tells the store: the WAL is long and copied up to now (see below). */
export type CheckpointerMessage = 'rewind'

/**
 * WAL frames (4 KiB pages) from which the writer is asked to rewind the WAL: 16 MiB. Under
 * steady traffic this thread never finds the WAL completely copied (the writer appends
 * while it copies), and only a transaction that starts after a complete checkpoint starts
 * the WAL over from its beginning. Without that the WAL grew by 25 MiB/s at 1,000
 * webhooks/s, and SQLite's own checkpoint inside a COMMIT stalled it for 50-100 ms. So
 * when a round has copied a long WAL up to its end, the writer copies the few frames
 * added since, between two batches (writer-thread.ts), and its next transaction rewinds.
 */
const REWIND_WAL_FRAMES = 4000

const { file, intervalMs } = workerData as CheckpointerThreadData
// On Linux this lowers the priority of this thread only: checkpoints use spare CPU.
try {
  setPriority(10)
} catch {}
const db = new Database(file)
db.pragma('synchronous = FULL')
db.pragma('busy_timeout = 1000')
const checkpoint = () => {
  try {
    const [round] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[]
    if (round !== undefined && round.log >= REWIND_WAL_FRAMES && round.checkpointed === round.log) {
      parentPort?.postMessage('rewind' satisfies CheckpointerMessage)
    }
  } catch {
    // Busy or failing: simply retried at the next tick; the WAL keeps every commit.
  }
}
const timer = setInterval(checkpoint, intervalMs)
parentPort?.once('message', () => {
  clearInterval(timer)
  checkpoint()
  db.close()
  parentPort?.close()
})
