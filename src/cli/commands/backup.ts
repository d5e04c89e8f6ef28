import { rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { OPTION_HELP, parseCommandLine } from '../args.js'
import { CliError, type Command } from '../command.js'
import { fileProblem } from '../input.js'
import { Progress } from '../progress.js'
import { configFor, requireSupportedNode } from '../targets.js'

const OPTIONS = {
  database: { type: 'string' },
  out: { type: 'string', short: 'o' },
  force: { type: 'boolean' },
} as const

/** Pages copied per step at first: small steps keep the progress line moving. */
const FIRST_STEP_PAGES = 100

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  )

export const backup: Command = {
  name: 'backup',
  summary: 'copy a live SQLite database consistently (online backup API)',
  interruptible: true,
  usage: `Usage: inlet backup --out FILE [options]

Copies the SQLite database at --database to FILE while a server may be writing it, with
SQLite's online backup API: the copy is one consistent moment of the database. It is
written to FILE.partial, checked (PRAGMA integrity_check) and renamed to FILE; then
  backup: N messages, <bytes> bytes → FILE
The copy is one self-contained file (rollback journal; a server that opens it returns it
to WAL). An existing FILE is refused unless --force.

The copy holds the messages database: messages, statuses and the event feed. Beside it the
server keeps two files that are not copied. The search index (app.search.db for app.db):
a server that opens the copy without one rebuilds it from the messages (searches stay
exact meanwhile, only slower). Forwarding's deliveries (app.forward.db): without the file
forwarding resumes at the end of the feed.
To restore: stop the server, put the copy in place of app.db and remove app.db-wal and
app.db-shm (they belong to the replaced file: SQLite would apply them to the copy). The
app.search.db and app.forward.db beside it may stay: the server brings both back to the
restored database (an index claiming rows it does not have is rebuilt; forwarding moves
back to the restored feed's end and delivers every event after it).

PostgreSQL is not copied by this command: use pg_dump, e.g.
  pg_dump --format=custom --file inlet.dump "$DATABASE_URL"    (restore with pg_restore)

Options:
${OPTION_HELP.database}
  -o, --out FILE       where the copy goes
  --force              replace FILE if it exists
${OPTION_HELP.help}`,

  async run(argv, context) {
    const args = parseCommandLine(backup, argv, context, OPTIONS)
    if (args === null) return
    const { values } = args
    const target = configFor(values.database, context.env).database
    if (target.kind === 'postgres') {
      throw new CliError(
        'backs up SQLite only; for PostgreSQL use pg_dump: pg_dump --format=custom --file inlet.dump "$DATABASE_URL" (restore with pg_restore)',
      )
    }
    const out = values.out
    if (out === undefined) throw new CliError('--out FILE is required')
    if (path.resolve(out) === path.resolve(target.file)) throw new CliError('--out names the database itself')
    if (!values.force && (await exists(out)))
      throw new CliError(`${out} exists already (--force replaces it)`)
    requireSupportedNode()
    const { default: Database } = await import('better-sqlite3')

    let source: import('better-sqlite3').Database
    try {
      source = new Database(target.file, { readonly: true, fileMustExist: true })
    } catch (error) {
      throw new CliError(`cannot open ${target.file}: ${(error as Error).message}`)
    }
    const partial = `${out}.partial`
    let shown = { total: 0, remaining: 0 }
    const progress = new Progress(context.stderr, () => {
      const copied = shown.total - shown.remaining
      const percent = shown.total === 0 ? 0 : Math.floor((copied / shown.total) * 100)
      return `backup: ${percent}% (${copied} of ${shown.total} pages)`
    })
    try {
      await rm(partial, { force: true })
      let step = FIRST_STEP_PAGES
      await source.backup(partial, {
        progress({ totalPages, remainingPages }) {
          // A write by another connection between two steps restarts the copy (the pages
          // left go up). Each restart doubles the step, so that a database written all the
          // time is still copied: in the end in one step, which holds one read snapshot
          // (in WAL mode the server keeps writing meanwhile).
          if (remainingPages > shown.remaining && shown.total > 0) step = Math.min(step * 2, 0x7fffffff)
          shown = { total: totalPages, remaining: remainingPages }
          if (context.signal.aborted) throw new CliError('interrupted')
          return step
        },
      })
      const copy = new Database(partial, { fileMustExist: true })
      let messages: number
      try {
        const check = copy.pragma('integrity_check', { simple: true })
        if (check !== 'ok') throw new CliError(`the copy failed its integrity check: ${String(check)}`)
        messages = copy.prepare('SELECT count(*) FROM messages').pluck().get() as number
        // One self-contained file, whatever the server's journal mode (it sets WAL again on open).
        copy.pragma('journal_mode = DELETE')
      } catch (error) {
        if (error instanceof CliError) throw error
        throw new CliError(`the copy cannot be read as an Inlet database: ${(error as Error).message}`)
      } finally {
        copy.close()
      }
      await rename(partial, out).catch((error: unknown) => {
        throw new CliError(fileProblem(out, error))
      })
      progress.stop()
      const { size } = await stat(out)
      context.stdout.write(`backup: ${messages} messages, ${size} bytes → ${out}\n`)
    } catch (error) {
      await rm(partial, { force: true })
      await rm(`${partial}-wal`, { force: true })
      await rm(`${partial}-shm`, { force: true })
      if (error instanceof CliError) throw error
      throw new CliError(`cannot write ${partial}: ${(error as Error).message}`)
    } finally {
      progress.stop()
      source.close()
    }
  },
}
