import { searchIndexFile } from '../../storage/sqlite/search-index.js'
import { OPTION_HELP, parseCommandLine } from '../args.js'
import { CliError, type Command } from '../command.js'
import { configFor, requireSupportedNode } from '../targets.js'

const OPTIONS = { database: { type: 'string' } } as const

/** How long VACUUM waits for the server's write lock (a batch commits in milliseconds). */
const BUSY_TIMEOUT_MS = 30_000

/**
 * Sender-index entries whose rowid no longer holds their message: zero unless VACUUM
 * renumbered rows. Every indexed row is checked, so this proves the ties of the sender
 * index, and with them of the search index (both keyed by the same rowids).
 */
const BROKEN_TIES_SQL = `
  SELECT count(*) FROM sender_index AS s LEFT JOIN messages AS m ON m.rowid = s.row
  WHERE m.message_id IS NOT s.message_id`

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`

export const vacuum: Command = {
  name: 'vacuum',
  summary: 'give the space of deleted messages back to the file system (SQLite VACUUM), safely',
  usage: `Usage: inlet vacuum [options]

Runs VACUUM on the SQLite database at --database, which may be in use by a server: the
file is rewritten without the pages deleted messages left free. Webhooks wait while it
runs (their batch waits for the write lock, up to SQLITE_BUSY_TIMEOUT_MS, 5 s by default):
measured at about 5 s per million messages, so run it when traffic is quiet, or raise
SQLITE_BUSY_TIMEOUT_MS for the while. Prints the database's size before and after (the file
itself shrinks at the next complete checkpoint, at once when no server is writing)
  vacuum: <MB before> → <MB after>, N messages, indexes checked

The search and sender indexes are keyed by messages.rowid. SQLite keeps the rowids of a
table that has an index when it vacuums (messages always has its primary key's), and
afterwards every sender-index entry is checked against the row it names. Should one ever
not match, the indexes are emptied to be rebuilt from the messages, and the command says
to restart the server (exit status 1).

Options:
${OPTION_HELP.database}
${OPTION_HELP.help}`,

  async run(argv, context) {
    const args = parseCommandLine(vacuum, argv, context, OPTIONS)
    if (args === null) return
    const target = configFor(args.values.database, context.env).database
    if (target.kind === 'postgres') {
      throw new CliError('runs on SQLite only; PostgreSQL reclaims space itself (autovacuum)')
    }
    requireSupportedNode()
    const { default: Database } = await import('better-sqlite3')
    let db: import('better-sqlite3').Database
    try {
      db = new Database(target.file, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS })
      db.prepare('SELECT store_id FROM store_meta').get()
    } catch (error) {
      throw new CliError(`cannot open ${target.file} as an Inlet database: ${(error as Error).message}`)
    }
    try {
      // The database's size in pages, not the file's: in WAL mode the file itself shrinks
      // when a checkpoint completes, which a server writing meanwhile may delay.
      const size = () =>
        (db.pragma('page_count', { simple: true }) as number) *
        (db.pragma('page_size', { simple: true }) as number)
      const before = size()
      try {
        db.exec('VACUUM')
        // In WAL mode the rewritten pages sit in the WAL: copy them into the file now if the
        // server lets it (else its own checkpoints do, moments later).
        db.pragma('wal_checkpoint(TRUNCATE)')
      } catch (error) {
        throw new CliError(`VACUUM failed: ${(error as Error).message}`)
      }
      const after = size()
      const messages = db.prepare('SELECT count(*) FROM messages').pluck().get() as number
      const broken = db.prepare(BROKEN_TIES_SQL).pluck().get() as number
      if (broken > 0) {
        db.transaction(() =>
          db.exec('DELETE FROM sender_index; UPDATE index_progress SET indexed_rowid = 0'),
        )()
        // An owner that matches no database: the search index is made again at the next start.
        const search = new Database(searchIndexFile(target.file), { timeout: BUSY_TIMEOUT_MS })
        try {
          search.exec(`UPDATE search_progress SET owner = 'renumbered'`)
        } finally {
          search.close()
        }
        throw new CliError(
          `VACUUM renumbered rows (index entries that no longer matched: ${broken}); the indexes were emptied: restart the server to rebuild them`,
        )
      }
      context.stdout.write(
        `vacuum: ${megabytes(before)} → ${megabytes(after)}, ${messages} messages, indexes checked\n`,
      )
    } finally {
      db.close()
    }
  },
}
