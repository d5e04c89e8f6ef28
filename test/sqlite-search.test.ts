import assert from 'node:assert/strict'
import { test } from 'node:test'
import { seededRandom } from '../bench/lib/seeded-random.js'
import { matchesQuery } from '../src/domain/text-search.js'
import type { Message, MessageQuery } from '../src/storage/message-store.js'
import { choosePagePlan } from '../src/storage/sqlite/search-plan.js'
import { SqliteMessageStore } from '../src/storage/sqlite/sqlite-store.js'
import { referencePage } from './helpers/reference.js'
import { tempSqliteStore } from './helpers/test-database.js'

test('search survives a restart: the index and its progress are durable', async (t) => {
  const { store, file } = await tempSqliteStore(t, 'restart.db')
  await store.insert({
    message_id: 'a',
    from: '+1',
    to: '+2',
    ts: '2025-01-01T00:00:00Z',
    text: 'Große Straße',
  })
  assert.equal((await store.list({ q: 'STRASSE', limit: 10, offset: 0 })).total, 1)
  await store.close()
  const reopened = new SqliteMessageStore({ file })
  t.after(() => reopened.close())
  await reopened.insert({
    message_id: 'b',
    from: '+1',
    to: '+2',
    ts: '2025-01-02T00:00:00Z',
    text: 'strasse',
  })
  const page = await reopened.list({ q: 'straSSe', limit: 10, offset: 0 })
  assert.deepEqual(
    page.data.map((m) => m.message_id),
    ['a', 'b'],
  )
})

/** A search for q alone: its total is the index's matches. */
const searchPlan = (matches: number, rows: number, end: number) =>
  choosePagePlan({ total: matches, rangeRows: rows, indexMatches: matches, senderRows: undefined, end })

test('the search plan follows how common the word is (figures of the million-row benchmark)', () => {
  assert.equal(searchPlan(294_150, 1_000_000, 50), 'time-walk-test') // "order", 30 %
  assert.equal(searchPlan(9_817, 1_000_000, 50), 'time-walk-set') // "refund", 1 %
  assert.equal(searchPlan(111, 1_000_000, 50), 'sort-matches') // "chargeback", 0.01 %
  // Deeper pages walk further, so the same word can need another plan there.
  assert.equal(searchPlan(9_817, 1_000_000, 2_000), 'sort-matches')
})

test('with a sender, the page walks the sender when it has fewer rows than the word has matches', () => {
  const plan = (senderRows: number, indexMatches: number, total: number) =>
    choosePagePlan({ total, rangeRows: 1_000_000, indexMatches, senderRows, end: 50 })
  assert.equal(plan(100, 294_150, 30), 'sender-walk') // a rare sender, a common word
  assert.equal(plan(110_000, 111, 20), 'sort-matches') // the busiest sender, a rare word
  assert.equal(plan(110_000, 294_150, 33_000), 'sender-walk') // both large: the page fills soon
})

test('every search plan gives the reference answer, with filters, offsets and cursors', async (t) => {
  const { store } = await tempSqliteStore(t, 'plans.db')
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
    plans.add(searchPlan(matches, stored.length, 50))
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
  assert.deepEqual([...plans].sort(), ['sort-matches', 'time-walk-set', 'time-walk-test'])
})
