import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { seededRandom } from '../bench/lib/seeded-random.js'
import { matchesQuery } from '../src/domain/text-search.js'
import type { Message, MessageQuery } from '../src/storage/message-store.js'
import { chooseSearchPlan } from '../src/storage/sqlite/search-plan.js'
import { SqliteMessageStore } from '../src/storage/sqlite/sqlite-store.js'
import { referencePage } from './helpers/reference.js'
import { tempDir } from './helpers/test-app.js'

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

test('the search plan follows how common the word is (figures of the million-row benchmark)', () => {
  assert.equal(chooseSearchPlan(294_150, 1_000_000, 50), 'test-each-row') // "order", 30 %
  assert.equal(chooseSearchPlan(9_817, 1_000_000, 50), 'walk-match-set') // "refund", 1 %
  assert.equal(chooseSearchPlan(111, 1_000_000, 50), 'sort-matches') // "chargeback", 0.01 %
  // Deeper pages walk further, so the same word can need another plan there.
  assert.equal(chooseSearchPlan(9_817, 1_000_000, 2_000), 'sort-matches')
})

test('every search plan gives the reference answer, with filters, offsets and cursors', async (t) => {
  let store: SqliteMessageStore | undefined
  const file = path.join(
    tempDir(t, () => store?.close()),
    'plans.db',
  )
  store = new SqliteMessageStore({ file })
  const next = seededRandom(7)
  const stored: Message[] = Array.from({ length: 2000 }, (_, i) => {
    const words = [i % 2 === 0 ? 'Dense' : 'other', i % 7 === 0 ? 'MIDDLE' : 'filler']
    if (i % 100 === 0) words.push('sparse')
    return {
      message_id: `m${Math.floor(next() * 1e9)}-${i}`,
      from: i % 3 === 0 ? '+1' : '+2',
      to: '+9',
      ts: new Date(Date.UTC(2025, 0, 1) + Math.floor(next() * 1e9)).toISOString(),
      text: words.join(' '),
    }
  })
  await Promise.all(stored.map((m) => store?.insert(m)))
  const plans = new Set<string>()
  for (const q of ['dense', 'middle', 'sparse']) {
    const matches = stored.filter((m) => matchesQuery(m.text, q)).length
    plans.add(chooseSearchPlan(matches, stored.length, 50))
    const queries: MessageQuery[] = [
      { q, limit: 50, offset: 0 },
      { q, limit: 20, offset: 35 },
      { q, limit: 50, offset: 0, from: '+1' },
      { q, limit: 50, offset: 0, since: '2025-01-06T00:00:00Z' },
    ]
    for (const query of queries) {
      const page = await store.list(query)
      assert.deepEqual(
        { total: page.total, ids: page.data.map((m) => m.message_id) },
        referencePage(stored, query),
        JSON.stringify(query),
      )
    }
    // A cursor walk through every match, 50 at a time.
    const walked: string[] = []
    let after: MessageQuery['after']
    for (;;) {
      const page = await store.list({ q, limit: 50, offset: 0, ...(after ? { after } : {}) })
      walked.push(...page.data.map((m) => m.message_id))
      if (page.next === undefined) break
      after = page.next
    }
    assert.deepEqual(walked, referencePage(stored, { q, limit: stored.length, offset: 0 }).ids)
  }
  assert.deepEqual([...plans].sort(), ['sort-matches', 'test-each-row', 'walk-match-set'])
})
