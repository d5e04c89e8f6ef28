import path from 'node:path'
import type Database from 'better-sqlite3'

/**
 * The search index lives in a database file of its own beside the messages
 * (`app.db` → `app.search.db`), written only by the indexer thread. FTS5 merges its
 * segments inside the transactions that add rows, and a merge can take a hundred
 * milliseconds or more at a million rows; in its own file that work never holds the
 * messages' write lock, so no webhook waits for it. Everything in it is derived from
 * `messages` and can be rebuilt from there; readers attach it read-only.
 */
export function searchIndexFile(file: string): string {
  const extension = path.extname(file)
  return `${file.slice(0, file.length - extension.length)}.search${extension}`
}

/** The schema name readers attach the search index under. */
export const SEARCH_SCHEMA = 'search'

/**
 * The index's schema. `owner` ties the file to the messages database it was built from
 * (the `store_id` in the messages database's `store_meta`): a search file restored from
 * another backup, or left from an older database, is rebuilt rather than trusted.
 */
const SCHEMA_SQL = `
  -- Substring search behind q: an FTS5 trigram index over the case-folded text
  -- (domain/text-search.ts), so a query of three or more characters is an index lookup.
  -- The folding is done before indexing, hence case_sensitive 1: FTS5's own folding
  -- would differ from the contract's. Contentless: the text lives in messages.
  -- contentless_delete: a deleted message's row is removed by its rowid alone (FTS5 then
  -- keeps a column size per row, which it needs for that).
  CREATE VIRTUAL TABLE IF NOT EXISTS messages_search USING fts5(
    body, content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 1'
  );
  -- How far (by messages.rowid) the index has got, whose index it is, and up to which
  -- deletion note (the messages' search_purge.seq) it has dropped deleted rows.
  CREATE TABLE IF NOT EXISTS search_progress (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    owner TEXT NOT NULL,
    indexed_rowid INTEGER NOT NULL,
    purged_seq INTEGER NOT NULL DEFAULT 0
  );
`

/** Files from before deletions existed: their index cannot drop a row by rowid, so it is made again. */
function predatesDeletions(db: Database.Database): boolean {
  const sql = db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'messages_search'").pluck().get() as
    | string
    | undefined
  return sql !== undefined && !sql.includes('contentless_delete')
}

/**
 * Creates the index's tables if missing, and empties an index that belongs to another
 * messages database, or claims rows or deletions the messages database never had
 * (`latestRowid`: the highest rowid ever used; `lastDeletionNote`: the last search_purge
 * seq; the messages restored from an earlier moment): it is rebuilt from the messages.
 * Returns the rowid indexed so far.
 */
export function prepareSearchIndex(
  db: Database.Database,
  owner: string,
  latestRowid: number,
  lastDeletionNote: number,
): number {
  if (predatesDeletions(db)) db.exec('DROP TABLE messages_search; DROP TABLE search_progress')
  db.exec(SCHEMA_SQL)
  const progress = db
    .prepare('SELECT owner, indexed_rowid, purged_seq FROM search_progress WHERE id = 1')
    .get() as { owner: string; indexed_rowid: number; purged_seq: number } | undefined
  if (
    progress !== undefined &&
    progress.owner === owner &&
    progress.indexed_rowid <= latestRowid &&
    progress.purged_seq <= lastDeletionNote
  ) {
    return progress.indexed_rowid
  }
  db.transaction(() => {
    db.exec(`INSERT INTO messages_search (messages_search) VALUES ('delete-all')`)
    db.prepare(
      `INSERT INTO search_progress (id, owner, indexed_rowid, purged_seq) VALUES (1, ?, 0, 0)
       ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, indexed_rowid = 0, purged_seq = 0`,
    ).run(owner)
  }).immediate()
  return 0
}
