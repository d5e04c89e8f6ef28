import assert from 'node:assert/strict'
import { test } from 'node:test'
import { seededRandom } from '../bench/lib/seeded-random.js'
import { CountCache } from '../src/storage/count-cache.js'
import type { Message, MessageQuery } from '../src/storage/message-store.js'
import { referencePage } from './helpers/reference.js'
import { tempSqliteStore } from './helpers/test-database.js'

test('the count cache forgets the least recently used count first', () => {
  const cache = new CountCache(2)
  cache.set('a', { count: 1, upTo: 10, epoch: 0 })
  cache.set('b', { count: 2, upTo: 10, epoch: 0 })
  assert.deepEqual(cache.get('a'), { count: 1, upTo: 10, epoch: 0 }) // a is now the most recent
  cache.set('c', { count: 3, upTo: 11, epoch: 0 })
  assert.equal(cache.size, 2)
  assert.equal(cache.get('b'), undefined)
  assert.deepEqual(cache.get('a'), { count: 1, upTo: 10, epoch: 0 })
  assert.deepEqual(cache.get('c'), { count: 3, upTo: 11, epoch: 0 })
})

const WORDS = ['order', 'Ordnung', 'refund', 'hello', 'ÖRDER', 'or']

function makeMessages(next: () => number, prefix: string, count: number): Message[] {
  return Array.from({ length: count }, (_, i) => ({
    message_id: `${prefix}-${i}`,
    from: `+${1 + Math.floor(next() * 3)}`,
    to: '+9',
    ts: new Date(Date.UTC(2025, 0, 1) + Math.floor(next() * 3e9)).toISOString(),
    text:
      next() < 0.1
        ? null
        : Array.from(
            { length: 1 + Math.floor(next() * 4) },
            () => WORDS[Math.floor(next() * WORDS.length)],
          ).join(' '),
  }))
}

test('remembered totals stay exact while messages and duplicates keep arriving', async (t) => {
  const { store } = await tempSqliteStore(t, 'counts.db')
  const next = seededRandom(11)
  // Every shape of counted query: indexed search alone and with filters, a search too short
  // for the index, since alone, and a sender with since (the sender index).
  const queries: MessageQuery[] = [
    { q: 'order', limit: 5, offset: 0 },
    { q: 'ORD', limit: 5, offset: 0, from: '+1' },
    { q: 'refund', limit: 5, offset: 0, since: '2025-01-20T00:00:00Z' },
    { q: 'or', limit: 5, offset: 0 },
    { since: '2025-01-15T00:00:00Z', limit: 5, offset: 0 },
    { from: '+2', since: '2025-01-10T00:00:00Z', limit: 5, offset: 0 },
  ]
  const stored = new Map<string, Message>()
  const deliver = async (batch: Message[]) => {
    await Promise.all(batch.map((m) => store?.insert(m)))
    for (const m of batch) if (!stored.has(m.message_id)) stored.set(m.message_id, m)
  }
  const check = async (when: string) => {
    for (const query of queries) {
      const page = await store?.list(query)
      assert.deepEqual(
        { total: page?.total, ids: page?.data.map((m) => m.message_id) },
        referencePage([...stored.values()], query),
        `${when}: ${JSON.stringify(query)}`,
      )
    }
  }
  for (let round = 0; round < 6; round++) {
    const fresh = makeMessages(next, `r${round}`, 150)
    // Redeliveries of earlier ids with other texts: the first write stands, counts must not move.
    const again = [...stored.values()].slice(0, 20).map((m) => ({ ...m, text: 'order order' }))
    await deliver([...fresh, ...again])
    await check(`round ${round}`)
    await check(`round ${round}, asked again with nothing new`)
  }
  // More new rows than a remembered count is brought up to date over: counted afresh.
  await deliver(makeMessages(next, 'bulk', 20_001))
  await check('after 20,001 new rows')
})
