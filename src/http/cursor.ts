import { createHash } from 'node:crypto'
import type { PagePosition } from '../storage/message-store.js'

/** The filters a cursor is bound to: a cursor made for one set is refused for another. */
export interface CursorFilters {
  from?: string
  since?: string
  q?: string
}

function fingerprint(filters: CursorFilters): string {
  return createHash('sha256')
    .update(JSON.stringify([filters.from ?? null, filters.since ?? null, filters.q ?? null]))
    .digest('base64url')
    .slice(0, 16)
}

/**
 * An opaque cursor: base64url of the position and a fingerprint of the filters. It is not
 * a secret (a crafted one can only point somewhere else in the same order), so it is not
 * signed.
 */
export function encodeCursor(position: PagePosition, filters: CursorFilters): string {
  return Buffer.from(JSON.stringify([position.key, position.messageId, fingerprint(filters)])).toString(
    'base64url',
  )
}

/** The position, or null when the cursor is malformed or was made for other filters. */
export function decodeCursor(cursor: string, filters: CursorFilters): PagePosition | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (!Array.isArray(value) || value.length !== 3) return null
    const [key, messageId, print] = value as unknown[]
    if (typeof key !== 'string' || typeof messageId !== 'string' || print !== fingerprint(filters))
      return null
    // Never made by Inlet (stored values hold no NUL), and PostgreSQL could not compare them.
    if (key.includes('\0') || messageId.includes('\0')) return null
    return { key, messageId }
  } catch {
    return null
  }
}
