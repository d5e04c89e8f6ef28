import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

// Short and printable without quoting: safe to echo in a header and to write in a log line.
const SAFE_REQUEST_ID = /^[A-Za-z0-9._~:@+=/-]{1,128}$/

/** The caller's X-Request-Id when it is short and safe, else a fresh UUID. */
export function requestIdFor(request: IncomingMessage): string {
  const given = request.headers['x-request-id']
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID()
}
