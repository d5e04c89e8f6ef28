import type { Stats } from '../../storage/message-store.js'
import { OPTION_HELP, parseCommandLine } from '../args.js'
import type { Command } from '../command.js'
import { endpoint, expectOk, readHeaders, request } from '../http.js'
import { serverFrom } from '../targets.js'

const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
} as const

/** The stats as a short report: the totals, then the top senders as a table with aligned counts. */
export function describeStats(stats: Stats): string {
  const lines = [
    `messages  ${stats.total_messages}`,
    `senders   ${stats.senders_count}`,
    `first     ${stats.first_message_ts ?? '-'}`,
    `last      ${stats.last_message_ts ?? '-'}`,
  ]
  if (stats.messages_per_sender.length > 0) {
    const header = ['top senders', 'messages']
    const rows = stats.messages_per_sender.map((sender) => [sender.from, String(sender.count)])
    const left = Math.max(header[0]?.length ?? 0, ...rows.map(([from]) => from?.length ?? 0))
    const right = Math.max(header[1]?.length ?? 0, ...rows.map(([, count]) => count?.length ?? 0))
    lines.push('')
    for (const [from = '', count = ''] of [header, ...rows])
      lines.push(`${from.padEnd(left)}  ${count.padStart(right)}`)
  }
  return `${lines.join('\n')}\n`
}

export const stats: Command = {
  name: 'stats',
  summary: 'print GET /stats: totals, first and last message, top senders',
  usage: `Usage: inlet stats [options]

Prints GET /stats readably: the number of messages and senders, the first and last ts,
and the top senders (up to 10) with their message counts.

Options:
${OPTION_HELP.url}
${OPTION_HELP.token}
  --json               print the response body as received
${OPTION_HELP.help}`,

  async run(argv, context) {
    const args = parseCommandLine(stats, argv, context, OPTIONS)
    if (args === null) return
    const server = serverFrom(args.values, context.env)
    const url = endpoint(server, '/stats')
    const response = await expectOk(await request(url, { headers: readHeaders(server) }), server)
    const body = await response.text()
    if (args.values.json) context.stdout.write(body.endsWith('\n') ? body : `${body}\n`)
    else context.stdout.write(describeStats(JSON.parse(body) as Stats))
  },
}
