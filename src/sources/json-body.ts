import { isUtf8 } from 'node:buffer'
import { AppError } from '../errors.js'

export function invalidBody(msg: string, type: string): AppError {
  return new AppError('validation_error', [{ loc: ['body'], msg, type }])
}

/**
 * Bytes → JSON value, for every source: JSON whatever the Content-Type says. Invalid
 * UTF-8, malformed JSON or an empty body is a 422 with `loc` `["body"]`.
 */
export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) throw invalidBody('Field required', 'missing')
  if (!isUtf8(raw)) throw invalidBody('Body is not valid UTF-8', 'json_invalid')
  try {
    // A leading byte-order mark is allowed, as Python's json.loads allows it on bytes.
    const start = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? 3 : 0
    return JSON.parse(raw.toString('utf8', start))
  } catch {
    throw invalidBody('JSON decode error', 'json_invalid')
  }
}

/** Text a database can hold exactly as sent: well-formed UTF-16 (no lone surrogates), no NUL. */
export function isStorable(text: string): boolean {
  return text.isWellFormed() && !text.includes('\0')
}
