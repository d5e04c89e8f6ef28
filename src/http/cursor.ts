import { createHash } from 'node:crypto'
import { AppError } from '../errors.js'
import type { PagePosition } from '../storage/message-store.js'

/**
 * What a cursor is bound to: the list's filters, in a fixed order (GET /messages: from,
 * since, q; other lists start with their name). A cursor made for one set is refused for
 * another.
 */
export type CursorScope = readonly (string | undefined)[]

function fingerprint(scope: CursorScope): string {
  return createHash('sha256').update(JSON.stringify(scope)).digest('base64url').slice(0, 16)
}

/** The 422 for a cursor that is malformed or belongs to other filters. */
export function invalidCursor(): AppError {
  return new AppError('validation_error', [
    {
      loc: ['query', 'cursor'],
      msg: 'Cursor is malformed or was made for other filters',
      type: 'value_error',
    },
  ])
}

/**
 * An opaque cursor: base64url of the position and a fingerprint of the filters. It is not
 * a secret (a crafted one can only point somewhere else in the same order), so it is not
 * signed.
 */
export function encodeCursor(position: PagePosition, scope: CursorScope): string {
  return Buffer.from(JSON.stringify([position.key, position.messageId, fingerprint(scope)])).toString(
    'base64url',
  )
}

/** The position, or null when the cursor is malformed or was made for other filters. */
export function decodeCursor(cursor: string, scope: CursorScope): PagePosition | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (!Array.isArray(value) || value.length !== 3) return null
    const [key, messageId, print] = value as unknown[]
    if (typeof key !== 'string' || typeof messageId !== 'string' || print !== fingerprint(scope)) return null
    // Never made by Inlet (stored values hold no NUL), and PostgreSQL could not compare them.
    if (key.includes('\0') || messageId.includes('\0')) return null
    return { key, messageId }
  } catch {
    return null
  }
}
