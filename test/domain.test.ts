import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { compareUtf8 } from '../src/domain/byte-order.js'
import { foldCase, matchesQuery } from '../src/domain/text-search.js'
import { timestampSortKey } from '../src/domain/timestamp.js'
import { unsupportedNode } from '../src/runtime.js'
import { signWebhookBody, verifyWebhookSignature } from '../src/sources/webhook/signature.js'

test('timestampSortKey orders instants as strings and drops insignificant fraction zeros', () => {
  assert.equal(timestampSortKey('2025-01-01T00:00:00Z'), '2025-01-01T00:00:00')
  assert.equal(timestampSortKey('2025-01-01T00:00:00.000Z'), '2025-01-01T00:00:00')
  assert.equal(timestampSortKey('2025-01-01T00:00:00.120Z'), '2025-01-01T00:00:00.12')
  const ordered = [
    '2025-01-01T00:00:00Z',
    '2025-01-01T00:00:00.05Z',
    '2025-01-01T00:00:00.5Z',
    '2025-01-01T00:00:01Z',
  ]
  const keys = ordered.map((ts) => timestampSortKey(ts) as string)
  assert.deepEqual([...keys].sort(), keys)
  assert.equal(timestampSortKey('0000-01-01T00:00:00Z'), null)
})

test('foldCase is applied per code point, so folding keeps substrings', () => {
  assert.equal(foldCase('ÉCOLE'), 'école')
  assert.equal(foldCase('Straße'), 'strasse')
  assert.equal(foldCase('ΟΔΟΣ'), 'οδοσ')
  assert.equal(foldCase('ς'), 'σ')
  assert.equal(matchesQuery('ΟΔΟΣ ΜΑΣ', 'Σ Μ'), true)
  assert.equal(matchesQuery(null, 'a'), false)
  assert.equal(matchesQuery('100%', '%'), true)
})

test('verifyWebhookSignature accepts only the exact 64-hex HMAC and never throws on malformed input', () => {
  const body = Buffer.from('{"a":1}')
  const good = signWebhookBody('k', body)
  assert.equal(verifyWebhookSignature(['k'], body, good), true)
  assert.equal(verifyWebhookSignature(['k'], body, good.toUpperCase()), true)
  for (const bad of [
    undefined,
    '',
    good.slice(1),
    `${good}a`,
    `${good.slice(0, 63)}z`,
    `sha256=${good}`,
    'é'.repeat(64),
  ]) {
    assert.equal(verifyWebhookSignature(['k'], body, bad), false, String(bad))
  }
  assert.equal(verifyWebhookSignature(['other'], body, good), false)
})

test('Node.js 22 and newer are supported; older majors are refused with both versions named', () => {
  assert.equal(unsupportedNode('22.0.0'), null)
  assert.equal(unsupportedNode('24.21.0'), null)
  assert.equal(unsupportedNode('26.10.0'), null)
  assert.equal(unsupportedNode('20.20.2'), 'Inlet needs Node.js 22 or newer (found 20.20.2)')
  assert.equal(unsupportedNode('21.7.3'), 'Inlet needs Node.js 22 or newer (found 21.7.3)')
})

test('compareUtf8 orders well-formed strings as their UTF-8 bytes compare', () => {
  const sign = (n: number) => Math.sign(n)
  // Around the surrogates: a code point above U+FFFF sorts after U+E000–U+FFFF, unlike UTF-16.
  for (const [a, b] of [
    ['a', 'b'],
    ['a', 'ab'],
    ['\uffff', '😀'],
    ['\ue000', '\u{10000}'],
    ['\u{10000}', '\u{10001}'],
    ['é', 'z'],
  ] as const) {
    assert.equal(sign(compareUtf8(a, b)), sign(Buffer.compare(Buffer.from(a), Buffer.from(b))), `${a} ${b}`)
  }
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
      assert.equal(sign(compareUtf8(a, b)), sign(Buffer.compare(Buffer.from(a), Buffer.from(b))))
    }),
    { numRuns: 5000 },
  )
})
