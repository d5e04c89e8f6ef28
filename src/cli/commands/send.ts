import { parseJsonBody } from '../../sources/json-body.js'
import { signWebhookBody } from '../../sources/webhook/signature.js'
import { integerOption, OPTION_HELP, parseCommandLine } from '../args.js'
import { backoffMs, retryAfterMs, sleep } from '../backoff.js'
import { CliError, type Command } from '../command.js'
import { connectionProblem, endpoint, failureOf } from '../http.js'
import { isBlank, type Line, openInput, readLines } from '../input.js'
import { Progress, Tally } from '../progress.js'
import { secretFrom, serverFrom } from '../targets.js'

/** The largest body the server can be configured to take (MAX_BODY_BYTES); longer lines are not read. */
const MAX_LINE_BYTES = 64 * 1024 * 1024

const OPTIONS = {
  url: { type: 'string' },
  secret: { type: 'string' },
  message: { type: 'string', short: 'm' },
  concurrency: { type: 'string', short: 'c' },
  retries: { type: 'string' },
} as const

/** What became of one line. `fatal`: the server, not the line, is the problem; sending stops. */
type Outcome =
  | { kind: 'created' | 'duplicate' | 'accepted' }
  | { kind: 'failed'; reason: string; fatal?: boolean }

export const send: Command = {
  name: 'send',
  summary: 'POST messages to /webhook, signed: one, or an NDJSON file with progress and a summary',
  usage: `Usage: inlet send [options] [FILE]

Sends each line of FILE (or stdin, or when FILE is -) to POST /webhook: NDJSON, one message
per line, blank lines skipped. Each line's bytes are the body, unchanged, signed with the
secret. A single message may also be given with --message, sent exactly as written (it may
span lines: --message "$(cat message.json)").

Prints a progress line on stderr (once a second) and at the end a summary on stdout:
  created N, duplicate N, failed N
Failed lines are named on stderr (line N: reason). Exit status 1 when any line failed.
A 5xx answer or a connection error is retried with exponential backoff (200 ms doubling to
5 s, with jitter); a 4xx is not. A wrong secret (401), or the server still failing after
every retry, stops the run.

Options:
${OPTION_HELP.url}
  --secret SECRET      the HMAC key (default: $WEBHOOK_SECRET)
  -m, --message JSON   send this one message instead of reading FILE
  -c, --concurrency N  requests in flight at once, 1 to 256 (default: 8)
  --retries N          retries of a line after a 5xx or a connection error, 0 to 100 (default: 5)
${OPTION_HELP.help}

Example:
  inlet send --message '{"message_id":"m1","from":"+919876543210","to":"+14155550100","ts":"2025-01-15T10:00:00Z","text":"Hello"}'`,

  async run(argv, context) {
    const args = parseCommandLine(send, argv, context, OPTIONS, { max: 1 })
    if (args === null) return
    const { values, positionals } = args
    if (values.message !== undefined && positionals.length > 0)
      throw new CliError('give FILE or --message, not both')
    const secret = secretFrom('secret', values.secret, 'WEBHOOK_SECRET', context.env)
    const concurrency = integerOption('concurrency', values.concurrency, 8, { min: 1, max: 256 })
    const retries = integerOption('retries', values.retries, 5, { min: 0, max: 100 })
    const url = endpoint(serverFrom(values, context.env), '/webhook')
    const lines: AsyncIterable<Line> | Iterable<Line> =
      values.message === undefined
        ? readLines(await openInput(positionals[0], context.stdin), MAX_LINE_BYTES)
        : [{ number: 1, bytes: Buffer.from(values.message) }]

    const deliver = async (bytes: Buffer): Promise<Outcome> => {
      try {
        parseJsonBody(bytes)
      } catch {
        return { kind: 'failed', reason: 'not JSON' }
      }
      const headers = { 'content-type': 'application/json', 'x-signature': signWebhookBody(secret, bytes) }
      for (let attempt = 0; ; attempt += 1) {
        let response: Response
        try {
          response = await fetch(url, { method: 'POST', body: bytes, headers })
        } catch (error) {
          if (attempt < retries) {
            await sleep(backoffMs(attempt))
            continue
          }
          return {
            kind: 'failed',
            reason: `${connectionProblem(url, error)} after ${retries} retries`,
            fatal: true,
          }
        }
        if (response.status >= 500 && attempt < retries) {
          await response.arrayBuffer().catch(() => {})
          await sleep(retryAfterMs(response.headers.get('retry-after')) ?? backoffMs(attempt))
          continue
        }
        if (!response.ok) {
          const reason = await failureOf(response)
          // A wrong key fails every line alike; a 5xx here outlasted every retry.
          if (response.status === 401) {
            return { kind: 'failed', reason: `${reason} (check --secret or WEBHOOK_SECRET)`, fatal: true }
          }
          if (response.status >= 500) {
            return { kind: 'failed', reason: `${reason} after ${retries} retries`, fatal: true }
          }
          return { kind: 'failed', reason }
        }
        await response.arrayBuffer()
        const result = response.headers.get('x-inlet-result')
        return { kind: result === 'created' || result === 'duplicate' ? result : 'accepted' }
      }
    }

    const tally = new Tally()
    const progress = new Progress(context.stderr, (elapsed) => tally.progress('sent', elapsed))
    let fatal: string | null = null
    const record = (line: number, outcome: Outcome) => {
      if (outcome.kind !== 'failed') {
        tally[outcome.kind] += 1
        return
      }
      tally.failed += 1
      if (outcome.fatal) fatal ??= outcome.reason
      else progress.log(`inlet send: line ${line}: ${outcome.reason}`)
    }
    // At most `concurrency` requests in flight; while they are full, no more input is read.
    const inFlight = new Set<Promise<void>>()
    try {
      for await (const line of lines) {
        if (fatal !== null) break
        if (line.bytes === null) {
          record(line.number, { kind: 'failed', reason: `longer than ${MAX_LINE_BYTES} bytes` })
          continue
        }
        if (isBlank(line.bytes)) continue
        const task: Promise<void> = deliver(line.bytes)
          .then((outcome) => record(line.number, outcome))
          .finally(() => inFlight.delete(task))
        inFlight.add(task)
        if (inFlight.size >= concurrency) await Promise.race(inFlight)
      }
      await Promise.all(inFlight)
    } finally {
      progress.stop()
    }
    context.stdout.write(`${tally.counts()}\n`)
    const failure = fatal ?? tally.failure()
    if (failure !== null) throw new CliError(failure)
  },
}
