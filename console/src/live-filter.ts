// Whether a message that arrives live belongs in the inbox as filtered: the same rules as
// GET /messages (exact sender, `since` by instant, `q` folded as every store folds it),
// from the same domain functions the stores use.
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
  const ea = new TextEncoder().encode(a.message_id)
  const eb = new TextEncoder().encode(b.message_id)
  for (let i = 0; i < Math.min(ea.length, eb.length); i++) {
    if (ea[i] !== eb[i]) return (ea[i] as number) - (eb[i] as number)
  }
  return ea.length - eb.length
}
