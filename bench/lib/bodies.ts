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

/**
 * Writes `count` lines of "<hex HMAC-SHA256 of body> <body>" for wrk-webhook.lua.
 * Throws if two message_ids collide: a duplicate would answer 200 without a new row
 * and spoil the row check.
 */
export function writeBodies(file: string, count: number, secret: string): void {
  const factory = new MessageFactory(1, BODIES_START_TS)
  const ids = new Set<string>()
  const fd = openSync(file, 'w')
  try {
    let chunk: string[] = []
    for (let i = 0; i < count; i++) {
      const message = factory.next()
      if (ids.has(message.message_id)) throw new Error(`duplicate message_id ${message.message_id}`)
      ids.add(message.message_id)
      const body = JSON.stringify(message)
      chunk.push(`${createHmac('sha256', secret).update(body).digest('hex')} ${body}\n`)
      if (chunk.length === 10_000 || i === count - 1) {
        writeSync(fd, chunk.join(''))
        chunk = []
      }
    }
  } finally {
    closeSync(fd)
  }
}
