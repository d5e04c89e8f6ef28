import { createHmac } from 'node:crypto'
import { closeSync, openSync, writeSync } from 'node:fs'
import { seededRandom } from './seeded-random.js'

export interface Message {
  message_id: string
  from: string
  to: string
  ts: string
  text: string
}

const COUNTRY_CODES = ['1', '31', '33', '34', '39', '44', '49', '55', '91', '234']
const WORDS = (
  'hi hello thanks ok yes no please call me back later today tomorrow order status ' +
  'delivery where is my package refund cancel the payment received invoice address ' +
  'change time meeting confirmed see you soon great news stop help code'
).split(' ')

/**
 * Realistic-looking messages: random UUID message_ids (so the primary key takes
 * random-key inserts, as with real providers), a few thousand senders with a skewed
 * share of traffic, a handful of recipients, whole-second timestamps rising by 0-2 s,
 * and texts of a few words.
 */
export class MessageFactory {
  private readonly random: () => number
  /** Every sender, the busiest first. */
  readonly senders: string[]
  private readonly recipients: string[]
  private clockMs: number

  constructor(seed: number, startTs: string, senderCount = 3000) {
    this.random = seededRandom(seed)
    this.senders = Array.from({ length: senderCount }, () => this.msisdn())
    this.recipients = Array.from({ length: 4 }, () => this.msisdn())
    this.clockMs = Date.parse(startTs)
  }

  next(): Message {
    this.clockMs += Math.floor(this.random() * 3) * 1000
    return {
      message_id: this.uuid(),
      // Squaring skews traffic towards the first senders: a few talk a lot.
      from: this.pick(this.senders, this.random() ** 2),
      to: this.pick(this.recipients, this.random()),
      ts: `${new Date(this.clockMs).toISOString().slice(0, 19)}Z`,
      text: this.text(),
    }
  }

  private pick(items: string[], r: number): string {
    return items[Math.floor(r * items.length)] as string
  }

  private digits(count: number): string {
    let s = ''
    for (let i = 0; i < count; i++) s += Math.floor(this.random() * 10)
    return s
  }

  private msisdn(): string {
    const cc = this.pick(COUNTRY_CODES, this.random())
    return `+${cc}${1 + Math.floor(this.random() * 9)}${this.digits(11 - cc.length)}`
  }

  private uuid(): string {
    const hex = Array.from({ length: 4 }, () =>
      Math.floor(this.random() * 2 ** 32)
        .toString(16)
        .padStart(8, '0'),
    ).join('')
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`
  }

  private text(): string {
    const count = 2 + Math.floor(this.random() * 7)
    const words = Array.from({ length: count }, () => this.pick(WORDS, this.random()))
    const sentence = words.join(' ')
    return `${sentence[0]?.toUpperCase()}${sentence.slice(1)}`
  }
}

/** Bench traffic starts after any prefilled rows (see prefill.ts), as new traffic would. */
export const BODIES_START_TS = '2025-06-01T00:00:00Z'

/** What the bench sends: generic /webhook bodies, or Meta's WhatsApp Cloud API envelopes. */
export type BenchSource = 'webhook' | 'whatsapp'

/** The route, the signature header and its value's form for each source. */
export const SOURCE_ROUTES: Record<BenchSource, { path: string; header: string }> = {
  webhook: { path: '/webhook', header: 'X-Signature' },
  whatsapp: { path: '/webhooks/whatsapp', header: 'X-Hub-Signature-256' },
}

const PROFILE_NAMES = ['Sheena Nelson', 'José Álvarez', 'Zoë Müller', 'Ana Lúcia', 'Priya Shah', 'Ömer Kaya']

/**
 * Serializes as Meta does in what it signs: non-ASCII as \uXXXX and `/` as `\/`, so the
 * bench exercises the same raw-bytes path real traffic does.
 */
export function metaJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/\//g, '\\/')
}

/**
 * One message as Meta delivers it: an envelope with one entry, one `messages` change, the
 * sender's profile in `contacts` and one text item (the shape of Meta's documented example).
 */
export function whatsappEnvelope(message: Message, index: number): Record<string, unknown> {
  const from = message.from.slice(1)
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: message.to.slice(1), phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: PROFILE_NAMES[index % PROFILE_NAMES.length] }, wa_id: from }],
              messages: [
                {
                  from,
                  id: `wamid.${Buffer.from(`${from}/${message.message_id}`).toString('base64')}`,
                  timestamp: String(Date.parse(message.ts) / 1000),
                  type: 'text',
                  text: { body: message.text },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  }
}

/**
 * Writes `count` lines of "<signature header value> <body>" for wrk-webhook.lua: the hex
 * HMAC-SHA256 for /webhook, `sha256=` and the hex for WhatsApp. Throws if two message ids
 * collide: a duplicate would answer 200 without a new row and spoil the row check.
 */
export function writeBodies(
  file: string,
  count: number,
  secret: string,
  source: BenchSource = 'webhook',
): void {
  const factory = new MessageFactory(1, BODIES_START_TS)
  const ids = new Set<string>()
  const fd = openSync(file, 'w')
  try {
    let chunk: string[] = []
    for (let i = 0; i < count; i++) {
      const message = factory.next()
      if (ids.has(message.message_id)) throw new Error(`duplicate message_id ${message.message_id}`)
      ids.add(message.message_id)
      const body = source === 'webhook' ? JSON.stringify(message) : metaJson(whatsappEnvelope(message, i))
      const hex = createHmac('sha256', secret).update(body).digest('hex')
      chunk.push(`${source === 'webhook' ? hex : `sha256=${hex}`} ${body}\n`)
      if (chunk.length === 10_000 || i === count - 1) {
        writeSync(fd, chunk.join(''))
        chunk = []
      }
    }
  } finally {
    closeSync(fd)
  }
}
