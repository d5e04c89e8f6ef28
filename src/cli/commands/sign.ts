import { signWebhookBody } from '../../sources/webhook/signature.js'
import { signWhatsAppBody } from '../../sources/whatsapp/signature.js'
import { OPTION_HELP, parseCommandLine } from '../args.js'
import type { Command } from '../command.js'
import { openInput, readAll } from '../input.js'
import { secretFrom } from '../targets.js'

const OPTIONS = {
  secret: { type: 'string' },
  whatsapp: { type: 'boolean' },
  'app-secret': { type: 'string' },
} as const

export const sign: Command = {
  name: 'sign',
  summary: 'print the signature of a body (X-Signature, or X-Hub-Signature-256 with --whatsapp)',
  usage: `Usage: inlet sign [options] [FILE]

Prints the signature of the body in FILE (or stdin, or when FILE is -), over its bytes
exactly as they are: the hex HMAC-SHA256 that POST /webhook expects in X-Signature.

Options:
  --secret SECRET      the HMAC key (default: $WEBHOOK_SECRET)
  --whatsapp           print Meta's X-Hub-Signature-256 value instead: sha256=<hex>
  --app-secret SECRET  the key of --whatsapp (default: $WHATSAPP_APP_SECRET)
${OPTION_HELP.help}

Example:
  curl -H "X-Signature: $(inlet sign body.json)" --data-binary @body.json http://127.0.0.1:8000/webhook`,
  async run(argv, context) {
    const args = parseCommandLine(sign, argv, context, OPTIONS, { max: 1 })
    if (args === null) return
    const { values, positionals } = args
    // The key first: without one, nothing is read (stdin would otherwise be awaited for nothing).
    const whatsapp = values.whatsapp === true
    const secret = whatsapp
      ? secretFrom('app-secret', values['app-secret'], 'WHATSAPP_APP_SECRET', context.env)
      : secretFrom('secret', values.secret, 'WEBHOOK_SECRET', context.env)
    const body = await readAll(await openInput(positionals[0], context.stdin))
    context.stdout.write(`${whatsapp ? signWhatsAppBody(secret, body) : signWebhookBody(secret, body)}\n`)
  },
}
