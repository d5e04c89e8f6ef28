import { AppError } from '../../errors.js'
import { parseJsonBody } from '../../sources/json-body.js'
import { toMessage } from '../../sources/webhook/body.js'
import type { NewMessage } from '../../storage/message-store.js'
import { type InletStore, openStore } from '../../storage/open-store.js'
import { OPTION_HELP, parseCommandLine } from '../args.js'
import { CliError, type Command } from '../command.js'
import { describeDetail } from '../http.js'
import { isBlank, openInput, readLines } from '../input.js'
import { Progress, Tally } from '../progress.js'
import { configFor, requireSupportedNode } from '../targets.js'

const BATCH = 500
/** Lines longer than any body the server could be configured to take are not read. */
const MAX_LINE_BYTES = 64 * 1024 * 1024

const OPTIONS = { database: { type: 'string' } } as const

/** A line → the message POST /webhook would store, or why POST /webhook would refuse it. */
function messageOf(bytes: Buffer): NewMessage | string {
  let body: unknown
  try {
    body = parseJsonBody(bytes)
  } catch {
    return 'not JSON'
  }
  try {
    return toMessage(body)
  } catch (error) {
    if (error instanceof AppError) return describeDetail(error.detail)
    throw error
  }
}

function storageProblem(error: unknown): string {
  const cause = (error as { cause?: { message?: string } }).cause?.message
  return `${(error as Error).message}${cause ? ` (${cause})` : ''}`
}

export const importCommand: Command = {
  name: 'import',
  summary: 'load NDJSON messages (an export, webhook bodies) straight into a database',
  usage: `Usage: inlet import [options] [FILE]

Writes the messages of FILE (or stdin, or when FILE is -) directly into the database at
--database, not over HTTP: to load an export into a new database, or to move from SQLite
to PostgreSQL:
  inlet export | inlet import --database postgres://inlet@db/inlet

NDJSON, one message per line (GET /export's lines, or POST /webhook bodies), blank lines
skipped. Each line is checked exactly as POST /webhook checks a body and stored once by
message_id, the first write winning: importing a file twice creates nothing the second time.
Only the contract's fields travel (message_id, from, to, ts, text), so a WhatsApp message
with a text over 4096 characters fails here as it would on POST /webhook. Each message
created is a message.created event in the target's feed (and forwarded, if a server there
forwards). The database's migrations are applied first, as the server applies them.

The target may be in use:
  SQLite      best into a database no server is writing: SQLite takes one writer at a
              time, so it is safe, but the server's writes wait while a batch commits.
  PostgreSQL  fine while replicas serve.

Prints a progress line on stderr (once a second) and at the end a summary on stdout:
  created N, duplicate N, failed N
Lines that fail are named on stderr (line N: reason). Exit status 1 when any line failed.

Options:
${OPTION_HELP.database}
${OPTION_HELP.help}`,

  async run(argv, context) {
    const args = parseCommandLine(importCommand, argv, context, OPTIONS, { max: 1 })
    if (args === null) return
    requireSupportedNode()
    const config = configFor(args.values.database, context.env)
    const input = await openInput(args.positionals[0], context.stdin)
    let store: InletStore
    try {
      store = await openStore(config)
    } catch (error) {
      throw new CliError(`cannot open the database: ${storageProblem(error)}`)
    }

    const tally = new Tally()
    const progress = new Progress(context.stderr, (elapsed) => tally.progress('imported', elapsed))
    const fail = (line: number, reason: string) => {
      tally.failed += 1
      progress.log(`inlet import: line ${line}: ${reason}`)
    }
    let batch: NewMessage[] = []
    const flush = async () => {
      if (batch.length === 0) return
      const messages = batch
      batch = []
      let result: Awaited<ReturnType<InletStore['ingest']>>
      try {
        result = await store.ingest({ messages, statuses: [] })
      } catch (error) {
        throw new CliError(`the database refused a batch: ${storageProblem(error)}`)
      }
      for (const outcome of result.messages) tally[outcome] += 1
    }
    try {
      for await (const line of readLines(input, MAX_LINE_BYTES)) {
        if (line.bytes === null) {
          fail(line.number, `longer than ${MAX_LINE_BYTES} bytes`)
          continue
        }
        if (isBlank(line.bytes)) continue
        const message = messageOf(line.bytes)
        if (typeof message === 'string') fail(line.number, message)
        else batch.push(message)
        if (batch.length === BATCH) await flush()
      }
      await flush()
    } finally {
      progress.stop()
      await store.close()
    }
    context.stdout.write(`${tally.counts()}\n`)
    const failure = tally.failure()
    if (failure !== null) throw new CliError(failure)
  },
}
