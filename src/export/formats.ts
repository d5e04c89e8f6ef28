import { stringify } from 'csv-stringify/sync'
import type { ExportPage, Message, MessagePage } from '../storage/message-store.js'

export type ExportFormat = 'ndjson' | 'csv'

export const COLUMNS = ['message_id', 'from', 'to', 'ts', 'text'] as const

export const MEDIA_TYPES: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
}

/** NDJSON: one line per message, the item of GET /messages (its keys in its order). */
function ndjsonLines(messages: readonly Message[]): string {
  let out = ''
  for (const m of messages) {
    out += `${JSON.stringify({ message_id: m.message_id, from: m.from, to: m.to, ts: m.ts, text: m.text })}\n`
  }
  return out
}

// A cell a spreadsheet would run as a formula (or as DDE) starts with one of these (OWASP's
// list); a leading apostrophe makes it text. Phone numbers (+…) are shown as text too.
const FORMULA_START = /^[=+\-@\t\r]/
const neutralised = (cell: string) => (FORMULA_START.test(cell) ? `'${cell}` : cell)

/**
 * CSV (RFC 4180): CRLF between records, a field with a comma, a quote or a line break in
 * quotes, quotes doubled. A null text is an empty cell.
 */
function csvRows(messages: readonly Message[], withHeader: boolean): string {
  const rows = messages.map((m) => [m.message_id, m.from, m.to, m.ts, m.text ?? ''].map(neutralised))
  return stringify(rows, {
    header: withHeader,
    columns: [...COLUMNS],
    record_delimiter: 'windows',
    // csv-stringify quotes the record delimiter (CRLF) but not a lone LF or CR.
    quoted_match: /[\r\n]/,
  })
}

/** The text of some messages of an export; the CSV header comes first (even alone). */
function exportText(format: ExportFormat, messages: readonly Message[], first: boolean): string {
  if (format === 'ndjson') return ndjsonLines(messages)
  if (messages.length === 0) return first ? `${COLUMNS.join(',')}\r\n` : ''
  return csvRows(messages, first)
}

/** One page of an export as the text to send, where it was read. */
export function exportPage(format: ExportFormat, page: MessagePage, first: boolean): ExportPage {
  return {
    text: exportText(format, page.data, first),
    rows: page.data.length,
    ...(page.next === undefined ? {} : { next: page.next }),
  }
}
