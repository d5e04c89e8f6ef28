import { type EventSourceMessage, EventSourceParserStream } from 'eventsource-parser/stream'
import { integerOption, OPTION_HELP, parseCommandLine } from '../args.js'
import { backoffMs, sleep } from '../backoff.js'
import { CliError, type Command, writeLine } from '../command.js'
import { connectionProblem, endpoint, expectOk, failureOf, oneLine, readHeaders, request } from '../http.js'
import { serverFrom } from '../targets.js'

const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  after: { type: 'string' },
  'from-start': { type: 'boolean' },
  count: { type: 'string' },
} as const

interface WireEvent {
  data?: Record<string, unknown>
}

/** One event as one line: `<id> message.created <ts> <from> → <to>: <text>` or `<id> status.updated …`. */
export function describeEvent(event: EventSourceMessage): string {
  let data: Record<string, unknown> = {}
  try {
    data = (JSON.parse(event.data) as WireEvent).data ?? {}
  } catch {
    // shown without its details
  }
  const field = (name: string) => oneLine(String(data[name] ?? ''))
  const head = `${oneLine(event.id ?? '')} ${oneLine(event.event ?? 'message')}`
  switch (event.event) {
    case 'message.created': {
      const text = data.text === null || data.text === undefined ? '' : `: ${oneLine(String(data.text))}`
      return `${head} ${field('ts')} ${field('from')} → ${field('to')}${text}`
    }
    case 'status.updated':
      return `${head} ${field('message_id')} ${field('status')} ${field('recipient_id')}`
    default:
      return head
  }
}

export const tail: Command = {
  name: 'tail',
  summary: 'follow the event feed (GET /events/stream), one line per event',
  interruptible: true,
  usage: `Usage: inlet tail [options]

Follows the feed of GET /events/stream and prints one line per event, in commit order:
  <id> message.created <ts> <from> → <to>: <text>
  <id> status.updated <message_id> <status> <recipient_id>
Text is kept on one line: line breaks and control characters are escaped (\\n, \\u001b…),
and a message without text ends after <to>.

It starts at the feed's end (events committed from now on); --from-start prints the whole
feed first, and --after ID resumes after an event you saw (the first number of its line).
A dropped connection is resumed after the last event printed (Last-Event-ID), with backoff.
Ctrl-C (SIGINT) or SIGTERM stops it, exit status 0.

Options:
${OPTION_HELP.url}
${OPTION_HELP.token}
  --after ID           start after this event id
  --from-start         start at the beginning of the feed
  --count N            exit after N events
  --json               print each event's JSON (id, type, created_at, data) as received
${OPTION_HELP.help}`,

  async run(argv, context) {
    const args = parseCommandLine(tail, argv, context, OPTIONS)
    if (args === null) return
    const { values } = args
    const server = serverFrom(values, context.env)
    const count = integerOption('count', values.count, Number.POSITIVE_INFINITY, { min: 1, max: 2 ** 53 - 1 })
    if (values.after !== undefined && values['from-start'])
      throw new CliError('--after and --from-start exclude each other')
    // The end is looked up once, as an id: a reconnection resumes from it, not from a later end.
    const after = values['from-start'] ? undefined : (values.after ?? (await feedEnd()))
    const url = endpoint(server, '/events/stream', { after })
    // Aborted by a signal, or once --count events are printed: ends the request in flight.
    const done = new AbortController()
    const signal = AbortSignal.any([context.signal, done.signal])
    let last = after
    let printed = 0
    let connected = false
    let attempt = 0

    while (!signal.aborted) {
      const headers = readHeaders(server, {
        accept: 'text/event-stream',
        ...(last !== undefined && connected ? { 'last-event-id': last } : {}),
      })
      let response: Response
      try {
        response = await fetch(url, { headers, signal })
      } catch (error) {
        if (signal.aborted) break
        // The first connection must work; a later one is the feed coming back.
        if (!connected) throw new CliError(connectionProblem(url, error))
        await reconnectAfter(connectionProblem(url, error))
        continue
      }
      if (!response.ok) {
        const reason = await failureOf(response, server)
        if (response.status < 500) throw new CliError(reason)
        if (!connected) throw new CliError(reason)
        await reconnectAfter(reason)
        continue
      }
      connected = true
      let reason = 'the server ended the stream'
      try {
        const events = (response.body as ReadableStream<Uint8Array>)
          .pipeThrough(new TextDecoderStream())
          .pipeThrough(new EventSourceParserStream())
        for await (const event of events) {
          await writeLine(context.stdout, values.json ? event.data : describeEvent(event))
          if (event.id !== undefined) last = event.id
          printed += 1
          attempt = 0
          if (printed >= count) {
            done.abort()
            break
          }
        }
      } catch (error) {
        if (signal.aborted) break
        reason = `the connection broke (${(error as Error).message})`
      }
      if (signal.aborted) break
      await reconnectAfter(reason)
    }

    async function feedEnd(): Promise<string> {
      const url = endpoint(server, '/events', { after: 'end', limit: '1' })
      const page = await expectOk(await request(url, { headers: readHeaders(server) }), server)
      return ((await page.json()) as { next: string }).next
    }

    async function reconnectAfter(reason: string): Promise<void> {
      const wait = backoffMs(attempt)
      attempt += 1
      context.stderr.write(`inlet tail: ${reason}; reconnecting in ${(wait / 1000).toFixed(1)} s\n`)
      await sleep(wait, signal)
    }
  },
}
