import { isMessageStatus } from '../../domain/message-status.js'
import { timestampFromUnixSeconds } from '../../domain/timestamp.js'
import type { IngestBatch, NewMessage, NewStatus } from '../../storage/message-store.js'
import { invalidBody, isStorable } from '../json-body.js'

/**
 * Meta's WhatsApp Cloud API webhook envelope → messages and statuses for the store. Meta
 * batches up to 1,000 updates in one POST and retries the whole POST for up to 7 days when
 * it is not answered 200, so nothing inside an envelope is ever a reason to refuse it: an
 * item that cannot be mapped is skipped and reported, the rest is stored.
 */

/** Where an item sat in the envelope and why it was not stored (never its content). */
export interface SkippedItem {
  kind: 'message' | 'status'
  entry: number
  change: number
  index: number
  reason: string
}

export interface MappedEnvelope {
  batch: IngestBatch
  /** Items that could not be mapped (no id, a bad sender or timestamp, …). */
  invalid: SkippedItem[]
  /** Items understood but outside Inlet's model: statuses of a kind it does not track. */
  ignored: SkippedItem[]
  /** Changes of a `field` other than `messages` (account updates, template reviews, …). */
  otherChanges: number
}

type Json = Record<string, unknown>

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
const str = (value: unknown): string | null => (typeof value === 'string' ? value : null)
const field = (value: unknown, key: string): unknown => (isObject(value) ? value[key] : undefined)
const joined = (parts: (string | null)[]): string | null => {
  const present = parts.filter((p): p is string => p !== null && p !== '')
  return present.length > 0 ? present.join(', ') : null
}
const arrayOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : [])

const DIGITS = /^[0-9]{1,15}$/

/** The envelope's shape at the top: a JSON object with an `entry` array, else 422. */
export function checkEnvelope(value: unknown): { entry: unknown[] } {
  if (!isObject(value)) {
    throw invalidBody(
      'Input should be a valid dictionary or object to extract fields from',
      'model_attributes_type',
    )
  }
  if (!Array.isArray(value.entry)) throw invalidBody('Input should have an entry array', 'missing')
  return { entry: value.entry }
}

/**
 * The text Inlet shows for a message, by its type: what a person would read in the
 * conversation. Media without words, stickers and unknown types have none.
 */
export function textOf(item: Json): string | null {
  const type = str(item.type)
  switch (type) {
    case 'text':
      return str(field(item.text, 'body'))
    case 'image':
    case 'video':
      return str(field(item[type], 'caption'))
    case 'document':
      return str(field(item.document, 'caption')) ?? str(field(item.document, 'filename'))
    case 'reaction':
      return str(field(item.reaction, 'emoji'))
    case 'button':
      return str(field(item.button, 'text'))
    case 'interactive':
      return (
        str(field(field(item.interactive, 'button_reply'), 'title')) ??
        str(field(field(item.interactive, 'list_reply'), 'title'))
      )
    case 'location':
      return joined([str(field(item.location, 'name')), str(field(item.location, 'address'))])
    case 'contacts':
      return joined(arrayOf(item.contacts).map((c) => str(field(field(c, 'name'), 'formatted_name'))))
    default:
      return null
  }
}

/** An id, sender or recipient a database can hold as sent. */
const storableId = (value: unknown): string | null => {
  const s = str(value)
  return s !== null && s !== '' && isStorable(s) ? s : null
}

function mapMessage(
  item: unknown,
  to: string | null,
  value: Json,
  names: Map<string, string>,
): NewMessage | string {
  if (!isObject(item)) return 'not an object'
  const id = storableId(item.id)
  if (id === null) return 'id'
  const from = str(item.from)
  if (from === null || !DIGITS.test(from)) return 'from'
  const ts = timestampFromUnixSeconds(item.timestamp)
  if (ts === null) return 'timestamp'
  if (to === null) return 'metadata.display_phone_number'
  const text = textOf(item)
  if (text !== null && !isStorable(text)) return 'text'
  return {
    message_id: id,
    from: `+${from}`,
    to,
    ts,
    text,
    source: 'whatsapp',
    type: str(item.type),
    contactName: names.get(from) ?? null,
    phoneNumberId: str(field(value.metadata, 'phone_number_id')),
    // The item as Meta sent it (JSON escapes NUL and lone surrogates, so any item fits).
    payload: JSON.stringify(item),
  }
}

function mapStatus(item: unknown): NewStatus | { invalid: string } | { ignored: string } {
  if (!isObject(item)) return { invalid: 'not an object' }
  const id = storableId(item.id)
  if (id === null) return { invalid: 'id' }
  if (typeof item.status !== 'string') return { invalid: 'status' }
  if (!isMessageStatus(item.status)) return { ignored: `status ${JSON.stringify(item.status.slice(0, 20))}` }
  const ts = timestampFromUnixSeconds(item.timestamp)
  if (ts === null) return { invalid: 'timestamp' }
  const recipient = storableId(item.recipient_id)
  if (recipient === null) return { invalid: 'recipient_id' }
  return {
    messageId: id,
    status: item.status,
    ts,
    recipientId: recipient,
    errors: Array.isArray(item.errors) ? JSON.stringify(item.errors) : null,
  }
}

/** Every `messages` change of every entry, mapped; everything else counted. */
export function mapEnvelope(envelope: { entry: unknown[] }): MappedEnvelope {
  const mapped: MappedEnvelope = {
    batch: { messages: [], statuses: [] },
    invalid: [],
    ignored: [],
    otherChanges: 0,
  }
  envelope.entry.forEach((entry, e) => {
    arrayOf(field(entry, 'changes')).forEach((change, c) => {
      if (field(change, 'field') !== 'messages') {
        mapped.otherChanges += 1
        return
      }
      const value = field(change, 'value')
      if (!isObject(value)) return
      const digits = str(field(value.metadata, 'display_phone_number'))?.replace(/[^0-9]/g, '') ?? ''
      const to = DIGITS.test(digits) ? `+${digits}` : null
      const names = new Map<string, string>()
      for (const contact of arrayOf(value.contacts)) {
        const waId = str(field(contact, 'wa_id'))
        const name = str(field(field(contact, 'profile'), 'name'))
        if (waId !== null && name !== null && isStorable(name)) names.set(waId, name)
      }
      arrayOf(value.messages).forEach((item, index) => {
        const message = mapMessage(item, to, value, names)
        if (typeof message === 'string')
          mapped.invalid.push({ kind: 'message', entry: e, change: c, index, reason: message })
        else mapped.batch.messages.push(message)
      })
      arrayOf(value.statuses).forEach((item, index) => {
        const status = mapStatus(item)
        const at = { kind: 'status' as const, entry: e, change: c, index }
        if ('invalid' in status) mapped.invalid.push({ ...at, reason: status.invalid })
        else if ('ignored' in status) mapped.ignored.push({ ...at, reason: status.ignored })
        else mapped.batch.statuses.push(status)
      })
    })
  })
  return mapped
}
