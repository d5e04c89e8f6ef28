// How the console writes numbers, times and texts. Pure functions: unit-tested in Node.
import { timestampSortKey } from '../../src/domain/timestamp.js'

const COUNT = new Intl.NumberFormat('en-US')

export function formatCount(n: number): string {
  return COUNT.format(n)
}

/** `1 message`, `1,234 messages`. */
export function countOf(n: number, noun: string): string {
  return `${formatCount(n)} ${noun}${n === 1 ? '' : 's'}`
}

/** A one-line preview of a message's text: whitespace collapsed, cut at `max` characters. */
export function preview(text: string | null, max = 140): string {
  if (text === null) return '(no text)'
  const line = text.replace(/\s+/g, ' ').trim()
  if (line === '') return '(blank)'
  const chars = Array.from(line)
  return chars.length <= max ? line : `${chars.slice(0, max - 1).join('')}…`
}

export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2)
}

/**
 * A `datetime-local` input's value (`YYYY-MM-DDTHH:MM[:SS]`, read as UTC) in the API's grammar,
 * or '' when empty or not a real time.
 */
export function sinceFromInput(value: string): string {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2})?(\.\d+)?$/.exec(value)
  if (match === null) return ''
  const ts = `${match[1]}${match[2] ?? ':00'}Z`
  return timestampSortKey(ts) === null ? '' : ts
}

/** The other way: what a `datetime-local` input (step 1 s) shows for a `since` from the URL. */
export function inputFromSince(since: string): string {
  return timestampSortKey(since) === null ? '' : since.slice(0, 19)
}

/** `2026-11-30T12:00:05Z` → `2026-11-30 12:00:05 UTC`: easier to read, still unambiguous. */
export function readableTs(ts: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?Z$/.exec(ts)
  return match === null ? ts : `${match[1]} ${match[2]}${match[3] ?? ''} UTC`
}

/** A bucket's label on the chart's axis: `Nov 30` for days, `Nov 30 14:00` for hours. */
export function bucketLabel(start: string, bucket: 'day' | 'hour'): string {
  const date = new Date(start)
  if (Number.isNaN(date.getTime())) return start
  const day = date.toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' })
  return bucket === 'day' ? day : `${day} ${start.slice(11, 16)}`
}
