import { seededRandom } from '../../bench/lib/seeded-random.js'
import { matchesQuery } from '../../src/domain/text-search.js'
import { timestampSortKey } from '../../src/domain/timestamp.js'
import type { Message, MessageQuery, Stats } from '../../src/storage/message-store.js'
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

/** Random messages with many duplicate ids and many ties on the instant. */
export function randomMessages(seed: number, count: number): Message[] {
  const next = seededRandom(seed)
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)] as T
  const ids = ['a', 'b', 'é', '\u{1F600}', '\uFF5E', 'Z', 'm-1', 'm-2']
  const fractions = ['', '.0', '.5', '.50', '.05', '.999']
  const messages: Message[] = []
  for (let i = 0; i < count; i++) {
    // Few ids and few instants: many duplicates and many ties on the instant.
    const id = `${pick(ids)}${Math.floor(next() * count * 0.7)}`
    const second = String(Math.floor(next() * 3)).padStart(2, '0')
    messages.push({
      message_id: id,
      from: `+${100 + Math.floor(next() * 14)}`,
      to: '+1',
      ts: `2025-01-0${1 + Math.floor(next() * 3)}T00:00:${second}${pick(fractions)}Z`,
      text: next() < 0.2 ? null : 'x',
    })
  }
  return messages
}

/** Stats recomputed from what was stored first under each id. */
export function expectedStats(sent: Message[]): Stats {
  const kept = new Map<string, Message>()
  for (const m of sent) if (!kept.has(m.message_id)) kept.set(m.message_id, m)
  const rows = [...kept.values()]
  const counts = new Map<string, number>()
  for (const m of rows) counts.set(m.from, (counts.get(m.from) ?? 0) + 1)
  const sorted = [...rows].sort(contractOrder)
  return {
    total_messages: rows.length,
    senders_count: counts.size,
    messages_per_sender: [...counts]
      .map(([from, count]) => ({ from, count }))
      .sort((a, b) => b.count - a.count || byteOrder(a.from, b.from))
      .slice(0, 10),
    first_message_ts: sorted[0]?.ts ?? null,
    last_message_ts: sorted.at(-1)?.ts ?? null,
  }
}
