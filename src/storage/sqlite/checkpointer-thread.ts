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

const { file, intervalMs } = workerData as CheckpointerThreadData
// On Linux this lowers the priority of this thread only: checkpoints use spare CPU.
try {
  setPriority(19)
} catch {}
const db = new Database(file)
db.pragma('synchronous = FULL')
db.pragma('busy_timeout = 1000')
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)')
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
