import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { signWhatsAppBody } from '../../src/sources/whatsapp/signature.js'
import { bytesOf } from './test-app.js'

export const APP_SECRET = 'meta-app-secret'
export const VERIFY_TOKEN = 'meta-verify-token'
/** The environment that turns the WhatsApp route on in a test app. */
export const WHATSAPP_ENV = { WHATSAPP_APP_SECRET: APP_SECRET, WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN }

const FIXTURES = path.resolve(import.meta.dirname, '../../src/sources/whatsapp/fixtures')

/** A fixture's exact bytes (escaped.json keeps Meta's \uXXXX and \/ escapes). */
export function fixture(name: string): Buffer {
  return readFileSync(path.join(FIXTURES, `${name}.json`))
}

export function fixtureJson<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(fixture(name).toString('utf8')) as T
}

type Json = Record<string, unknown>

/** An envelope of one `messages` change, in the shape Meta documents. */
export function envelope(value: {
  messages?: unknown[]
  statuses?: unknown[]
  contacts?: unknown[]
  phone?: string
}): Json {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: {
                display_phone_number: value.phone ?? '15550783881',
                phone_number_id: '106540352242922',
              },
              ...(value.contacts ? { contacts: value.contacts } : {}),
              ...(value.messages ? { messages: value.messages } : {}),
              ...(value.statuses ? { statuses: value.statuses } : {}),
            },
          },
        ],
      },
    ],
  }
}

let counter = 0

/** A text message item from 16505551234; a new id on each call unless one is given. */
export function textItem(overrides: Json = {}): Json {
  counter += 1
  return {
    from: '16505551234',
    id: `wamid.test-${process.pid}-${counter}`,
    timestamp: '1749416383',
    type: 'text',
    text: { body: 'Hello from WhatsApp' },
    ...overrides,
  }
}

export function statusItem(id: string, status: string, timestamp: string, overrides: Json = {}): Json {
  return { id, status, timestamp, recipient_id: '16505551234', ...overrides }
}

/** POST /webhooks/whatsapp signed like Meta signs: over exactly the bytes sent. */
export function postWhatsApp(
  app: FastifyInstance,
  body: unknown,
  options: { secret?: string; headers?: Record<string, string> } = {},
) {
  const raw = bytesOf(body)
  return app.inject({
    method: 'POST',
    url: '/webhooks/whatsapp',
    payload: raw,
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': signWhatsAppBody(options.secret ?? APP_SECRET, raw),
      ...options.headers,
    },
  })
}
