import assert from 'node:assert/strict'
import { test } from 'node:test'
import { seededRandom } from '../bench/lib/seeded-random.js'
import type { Message, MessageQuery, MessageStore } from '../src/storage/message-store.js'
import { expectedStats, randomMessages, referencePage } from './helpers/reference.js'
import { freshTestDatabase } from './helpers/test-database.js'

// The storage contract, checked against a straightforward reference in JavaScript. It runs
// against the adapter under test: SQLite, and PostgreSQL when INLET_TEST_STORE=postgres.

for (const seed of [1, 2, 3, 4, 5]) {
  test(`counters equal a recomputation after random inserts and duplicates (seed ${seed})`, async (t) => {
    let store: MessageStore | undefined
    const database = await freshTestDatabase(t, () => store?.close())
    store = await database.openStore()
    const messages = randomMessages(seed, 400)
    const next = seededRandom(seed * 7)
    // Random batch sizes: several inserts per event-loop turn share a transaction.
    for (let i = 0; i < messages.length; ) {
      const size = 1 + Math.floor(next() * 40)
      await Promise.all(messages.slice(i, i + size).map((m) => store?.insert(m)))
      i += size
    }
    assert.deepEqual(await store.stats(), expectedStats(messages))
    assert.equal((await store.list({ limit: 1, offset: 0 })).total, expectedStats(messages).total_messages)
  })
}

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

for (const seed of [1, 2, 3]) {
  test(`indexed search answers exactly what a scan in JavaScript answers (seed ${seed})`, async (t) => {
    let store: MessageStore | undefined
    const database = await freshTestDatabase(t, () => store?.close())
    store = await database.openStore()
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
        const expected = referencePage(stored, query)
        assert.deepEqual(
          { total: page.total, ids: page.data.map((m) => m.message_id) },
          expected,
          `q=${JSON.stringify(query.q)} from=${query.from} offset=${query.offset} limit=${query.limit}`,
        )
      }
    }
  })
}
