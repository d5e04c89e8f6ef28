import { matchesQuery } from '../../src/domain/text-search.js'
import { timestampSortKey } from '../../src/domain/timestamp.js'
import type { MessageQuery } from '../../src/storage/message-store.js'
import { byteOrder } from './test-app.js'

type Ordered = { message_id: string; ts: string }
type Filterable = Ordered & { from: string; text: string | null }

/** The contract's order, computed in JavaScript: instant, then message_id in byte order. */
export const contractOrder = (a: Ordered, b: Ordered): number =>
  byteOrder(timestampSortKey(a.ts) ?? '', timestampSortKey(b.ts) ?? '') ||
  byteOrder(a.message_id, b.message_id)

/** The reference answer of a query: the stored messages filtered in JavaScript, in order. */
export function referencePage(stored: Filterable[], query: MessageQuery): { total: number; ids: string[] } {
  const since = query.since === undefined ? undefined : { ts: query.since, message_id: '' }
  const matches = stored
    .filter((m) => query.q === undefined || matchesQuery(m.text, query.q))
    .filter((m) => query.from === undefined || m.from === query.from)
    .filter((m) => since === undefined || contractOrder(m, since) >= 0)
    .sort(contractOrder)
  return {
    total: matches.length,
    ids: matches.slice(query.offset, query.offset + query.limit).map((m) => m.message_id),
  }
}
