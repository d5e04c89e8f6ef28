import { open, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { OPTION_HELP, parseCommandLine } from '../args.js'
import { CliError, type Command } from '../command.js'
import { endpoint, expectOk, readHeaders, request } from '../http.js'
import { fileProblem } from '../input.js'
import { formatBytes, Progress, rate } from '../progress.js'
import { serverFrom } from '../targets.js'

const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  format: { type: 'string' },
  from: { type: 'string' },
  since: { type: 'string' },
  q: { type: 'string' },
  out: { type: 'string', short: 'o' },
} as const

const FORMATS = ['ndjson', 'csv']

/** The file name a Content-Disposition header proposes, reduced to a plain name (no path). */
function proposedName(header: string | null): string | null {
  const name = header === null ? undefined : /filename="?([^";]+)"?/i.exec(header)?.[1]
  const base = name === undefined ? '' : path.basename(name)
  return base === '' || base === '.' || base === '..' ? null : base
}

/** Where --out writes: the file named, or inside a folder under the server's proposed name. */
async function destinationOf(out: string, response: Response, format: string): Promise<string> {
  const isFolder = await stat(out).then(
    (found) => found.isDirectory(),
    () => false,
  )
  if (!isFolder) return out
  return path.join(out, proposedName(response.headers.get('content-disposition')) ?? `inlet-export.${format}`)
}

export const exportCommand: Command = {
  name: 'export',
  summary: 'stream GET /export (NDJSON or CSV) to stdout or a file',
  interruptible: true,
  usage: `Usage: inlet export [options]

Streams every message that matches the filters, in the contract's order (ts, then
message_id), from GET /export: NDJSON lines equal to GET /messages items, or CSV with the
header message_id,from,to,ts,text. Writes to stdout, or with --out to FILE.partial, renamed
to FILE once complete (removed on failure). A progress line on stderr, once a second.

Options:
${OPTION_HELP.url}
${OPTION_HELP.token}
  --format FORMAT      ndjson (default) or csv
  --from MSISDN        only this sender (+919876543210)
  --since TS           only messages at or after this instant (2025-01-15T10:00:00Z)
  --q TEXT             only messages whose text contains TEXT, case-insensitively
  -o, --out FILE       write to FILE; a folder: inside it, under the name the server proposes
${OPTION_HELP.help}

Examples:
  inlet export --out messages.ndjson
  inlet export | inlet import --database postgres://inlet@db/inlet`,

  async run(argv, context) {
    const args = parseCommandLine(exportCommand, argv, context, OPTIONS)
    if (args === null) return
    const { values } = args
    const format = values.format ?? 'ndjson'
    if (!FORMATS.includes(format))
      throw new CliError(`--format must be ndjson or csv (got ${JSON.stringify(format)})`)
    const server = serverFrom(values, context.env)
    const url = endpoint(server, '/export', { format, from: values.from, since: values.since, q: values.q })
    const { signal } = context
    const response = await expectOk(await request(url, { headers: readHeaders(server), signal }), server)

    let lines = 0
    let bytes = 0
    let lastByte = 0x0a
    const count = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) lines += 1
        bytes += chunk.length
        if (chunk.length > 0) lastByte = chunk[chunk.length - 1] as number
        callback(null, chunk)
      },
    })
    const progress = new Progress(
      context.stderr,
      (elapsed) => `exported ${lines} lines, ${formatBytes(bytes)} (${rate(lines, elapsed)})`,
    )
    const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>)
    const copy = async (destination: NodeJS.WritableStream, end: boolean) => {
      try {
        await pipeline(body, count, destination, { signal, end })
      } catch (error) {
        if (signal.aborted) throw new CliError('interrupted')
        throw new CliError(`the export broke off after ${lines} lines (${(error as Error).message})`)
      }
      // Every record ends with a line break: a body that does not was cut short.
      if (lastByte !== 0x0a)
        throw new CliError(`the export ended in the middle of a line after ${lines} lines`)
    }
    try {
      if (values.out === undefined) {
        await copy(context.stdout, false)
        return
      }
      const file = await destinationOf(values.out, response, format)
      const partial = `${file}.partial`
      const handle = await open(partial, 'w').catch((error: unknown) => {
        throw new CliError(fileProblem(partial, error))
      })
      try {
        await copy(handle.createWriteStream(), true)
        await rename(partial, file)
      } catch (error) {
        await rm(partial, { force: true })
        throw error instanceof CliError ? error : new CliError(fileProblem(file, error))
      }
      progress.stop()
      context.stdout.write(`exported ${lines} lines, ${bytes} bytes → ${file}\n`)
    } finally {
      progress.stop()
    }
  },
}
