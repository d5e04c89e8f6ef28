import Database from 'better-sqlite3'
import { foldCase } from '../../domain/text-search.js'

/** WAL pages (4 KiB each) after which a COMMIT checkpoints by itself: 64 MiB. */
const BACKSTOP_CHECKPOINT_PAGES = 16384

/** Adds what every Inlet connection's SQL uses: `inlet_fold(text)`, the contract's case folding. */
function addFunctions(db: Database.Database): void {
  db.function('inlet_fold', { deterministic: true }, (text: unknown) =>
    typeof text === 'string' ? foldCase(text) : null,
  )
}

/**
 * The one connection that writes (the writer thread's). WAL with synchronous=FULL: the WAL
 * is fsynced at each COMMIT of a message batch, so a committed batch survives a crash.
 * Checkpoints run in their own thread; SQLite's own stays as a backstop, far away, in case
 * that thread falls behind.
 */
export function openWriteConnection(file: string, busyTimeoutMs: number): Database.Database {
  // The busy timeout from the start: opening and migrating wait for locks too.
  const db = new Database(file, { timeout: Math.trunc(busyTimeoutMs) })
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`)
  addFunctions(db)
  return db
}

/**
 * A read-only connection (a reader thread's). In WAL mode it never waits for the writer,
 * and each read transaction sees the database as of its first statement.
 */
export function openReadConnection(file: string): Database.Database {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  addFunctions(db)
  return db
}
