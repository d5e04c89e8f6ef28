import Database from 'better-sqlite3'
import { foldCase } from '../../domain/text-search.js'
import { FORWARD_SCHEMA } from './forward-database.js'
import { SEARCH_SCHEMA } from './search-index.js'

/** Adds what every Inlet connection's SQL uses: `inlet_fold(text)`, the contract's case folding. */
function addFunctions(db: Database.Database): void {
  db.function('inlet_fold', { deterministic: true }, (text: unknown) =>
    typeof text === 'string' ? foldCase(text) : null,
  )
}

/**
 * The one connection that writes messages (the writer thread's). WAL with
 * synchronous=FULL: the WAL is fsynced at each COMMIT of a message batch, so a committed
 * batch survives a crash.
 */
export function openWriteConnection(file: string, busyTimeoutMs: number): Database.Database {
  // The busy timeout from the start: opening and migrating wait for locks too.
  const db = new Database(file, { timeout: Math.trunc(busyTimeoutMs) })
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  // No checkpoint inside a COMMIT that webhooks wait for: the upkeep thread copies the
  // WAL, and the writer rewinds it between batches (upkeep-thread.ts). Were SQLite's
  // own checkpoint on, a long read (which keeps the WAL from rewinding) would make every
  // commit past the threshold try one. The store turns it back on if that thread stops.
  db.pragma('wal_autocheckpoint = 0')
  addFunctions(db)
  return db
}

/**
 * A read-only connection. In WAL mode it never waits for the writer, and each read
 * transaction sees the database as of its first statement. With `searchFile`, the search
 * index is attached (read-only too) as schema `search`; with `forwardFile`, forwarding's
 * deliveries as schema `forward`.
 */
export function openReadConnection(
  file: string,
  searchFile?: string,
  forwardFile?: string,
): Database.Database {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  addFunctions(db)
  if (searchFile !== undefined) db.prepare(`ATTACH DATABASE ? AS ${SEARCH_SCHEMA}`).run(searchFile)
  if (forwardFile !== undefined) db.prepare(`ATTACH DATABASE ? AS ${FORWARD_SCHEMA}`).run(forwardFile)
  return db
}

/** A prepared statement per distinct SQL text: reads come in a few shapes, each prepared once. */
export function statementCache(db: Database.Database): (sql: string) => Database.Statement {
  const prepared = new Map<string, Database.Statement>()
  return (sql) => {
    let statement = prepared.get(sql)
    if (statement === undefined) {
      statement = db.prepare(sql)
      prepared.set(sql, statement)
    }
    return statement
  }
}

/** Runs a read in one transaction, so that everything it reads comes from one snapshot. */
export function inSnapshot(db: Database.Database): <T>(run: () => T) => T {
  return db.transaction((run: () => unknown) => run()) as <T>(run: () => T) => T
}

/**
 * Runs `write` as one transaction that does not fsync (synchronous=NORMAL): for work that a
 * crash may lose because it is redone (index upkeep from its mark, delivery state: at least
 * once). A process crash loses none of it; the next fsynced COMMIT makes it durable too.
 */
export function withoutFsync<T>(db: Database.Database, write: () => T): T {
  db.pragma('synchronous = NORMAL')
  try {
    return db.transaction(write).immediate()
  } finally {
    db.pragma('synchronous = FULL')
  }
}
