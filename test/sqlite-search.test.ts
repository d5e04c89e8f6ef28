import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { seededRandom } from '../bench/lib/seeded-random.js'
import { matchesQuery } from '../src/domain/text-search.js'
import { timestampSortKey } from '../src/domain/timestamp.js'
import type { Message, MessageQuery } from '../src/storage/message-store.js'
import { SqliteMessageStore } from '../src/storage/sqlite/sqlite-store.js'
import { byteOrder, tempDir } from './helpers/test-app.js'

// Characters whose case folding, width or meaning trips naive search: accents, German
// sharp s, Greek sigmas, dotted/dotless i, LIKE wildcards, FTS5 quoting, emoji.
const ALPHABET = [...'abcAB  eéÉßẞΣσςİıi%_"*😀12', 'co', 'mmon']

function randomText(next: () => number): string | null {
  if (next() < 0.1) return null
  const length = Math.floor(next() * 25)
  let text = ''
  for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(next() * ALPHABET.length)]
  // A third of the texts share a word, so some queries match densely (the walking plan).
  return next() < 0.33 ? `${text} common` : text
}

function randomQuery(next: () => number, texts: (string | null)[]): string {
  const source = texts[Math.floor(next() * texts.length)]
  if (source && next() < 0.7) {
    const chars = [...source]
    const start = Math.floor(next() * chars.length)
    const piece = chars.slice(start, start + 1 + Math.floor(next() * 6)).join('')
    // Change the case of what is asked for; matching must not care.
    return next() < 0.5 ? piece.toUpperCase() : piece
  }
  return [...Array(1 + Math.floor(next() * 5))]
    .map(() => ALPHABET[Math.floor(next() * ALPHABET.length)])
    .join('')
}

const order = (a: Message, b: Message) =>
  byteOrder(timestampSortKey(a.ts) ?? '', timestampSortKey(b.ts) ?? '') ||
  byteOrder(a.message_id, b.message_id)

/** The reference: filter the stored messages in JavaScript, in the contract's order. */
function reference(stored: Message[], query: MessageQuery) {
  const matches = stored
    .filter((m) => query.q === undefined || matchesQuery(m.text, query.q))
    .filter((m) => query.from === undefined || m.from === query.from)
    .sort(order)
  return {
    total: matches.length,
    ids: matches.slice(query.offset, query.offset + query.limit).map((m) => m.message_id),
  }
}

for (const seed of [1, 2, 3]) {
  test(`indexed search answers exactly what a scan in JavaScript answers (seed ${seed})`, async (t) => {
    let store: SqliteMessageStore | undefined
    const file = path.join(
      tempDir(t, () => store?.close()),
      'search.db',
    )
    store = new SqliteMessageStore({ file })
    const next = seededRandom(seed)
    const stored: Message[] = []
    for (let round = 0; round < 4; round++) {
      const batch = Array.from({ length: 150 }, (_, i) => ({
        message_id: `r${round}-${i}-${Math.floor(next() * 1e6)}`,
        from: next() < 0.5 ? '+1' : '+2',
        to: '+3',
        ts: `2025-01-0${1 + Math.floor(next() * 3)}T00:00:0${Math.floor(next() * 3)}Z`,
        text: randomText(next),
      }))
      await Promise.all(batch.map((m) => store?.insert(m)))
      stored.push(...batch)
      // Queries right after the commits: the background indexer has not run yet, so these
      // also prove a search sees every acknowledged message.
      const texts = stored.map((m) => m.text)
      for (let i = 0; i < 40; i++) {
        const query: MessageQuery = {
          q: randomQuery(next, texts),
          limit: 1 + Math.floor(next() * 30),
          offset: 0,
        }
        if (next() < 0.3) query.from = '+1'
        if (next() < 0.3) query.offset = Math.floor(next() * 40)
        const page = await store.list(query)
        const expected = reference(stored, query)
        assert.deepEqual(
          { total: page.total, ids: page.data.map((m) => m.message_id) },
          expected,
          `q=${JSON.stringify(query.q)} from=${query.from} offset=${query.offset} limit=${query.limit}`,
        )
      }
    }
  })
}

test('search survives a restart: the index and its progress are durable', async (t) => {
  let store: SqliteMessageStore | undefined
  const file = path.join(
    tempDir(t, () => store?.close()),
    'restart.db',
  )
  store = new SqliteMessageStore({ file })
  await store.insert({
    message_id: 'a',
    from: '+1',
    to: '+2',
    ts: '2025-01-01T00:00:00Z',
    text: 'Große Straße',
  })
  assert.equal((await store.list({ q: 'STRASSE', limit: 10, offset: 0 })).total, 1)
  await store.close()
  store = new SqliteMessageStore({ file })
  await store.insert({ message_id: 'b', from: '+1', to: '+2', ts: '2025-01-02T00:00:00Z', text: 'strasse' })
  const page = await store.list({ q: 'straSSe', limit: 10, offset: 0 })
  assert.deepEqual(
    page.data.map((m) => m.message_id),
    ['a', 'b'],
  )
})
