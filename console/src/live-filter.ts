// Whether a message that arrives live belongs in the inbox as filtered: the same rules as
// GET /messages (exact sender, `since` by instant, `q` folded as every store folds it),
// from the same domain functions the stores use.
import { compareUtf8 } from '../../src/domain/byte-order.js'
import { matchesQuery } from '../../src/domain/text-search.js'
import { timestampSortKey } from '../../src/domain/timestamp.js'
import type { InboxFilters } from './routes.js'

export interface ListedMessage {
  message_id: string
  from: string
  to: string
  ts: string
  text: string | null
}

export function matchesFilters(message: ListedMessage, filters: InboxFilters): boolean {
  if (filters.from !== '' && message.from !== filters.from) return false
  if (filters.q !== '' && !matchesQuery(message.text, filters.q)) return false
  if (filters.since !== '') {
    const since = timestampSortKey(filters.since)
    const ts = timestampSortKey(message.ts)
    if (since === null || ts === null || ts < since) return false
  }
  return true
}

/** The contract's order: instant, then message_id by UTF-8 bytes (the stores' order). */
export function compareMessages(a: ListedMessage, b: ListedMessage): number {
  const ka = timestampSortKey(a.ts) ?? a.ts
  const kb = timestampSortKey(b.ts) ?? b.ts
  if (ka !== kb) return ka < kb ? -1 : 1
  return compareUtf8(a.message_id, b.message_id)
}
