// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`: uppercase T and Z, ASCII digits only, no offsets.
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z$/

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
}

/**
 * Returns a key whose byte order is the order of instants, or null when `ts` is not a
 * real UTC timestamp in the contract's grammar.
 *
 * The key is the fixed-width date-time, then `.fraction` with trailing zeros removed:
 * `…:00Z`, `…:00.000Z` and `…:00.5Z` become `…:00`, `…:00` and `…:00.5`, which sort by
 * instant as plain strings (the raw text does not: `.` sorts before `Z`).
 */
export function timestampSortKey(ts: string): string | null {
  const m = TIMESTAMP.exec(ts)
  if (m === null) return null
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  if (year < 1 || month < 1 || month > 12 || day < 1) return null
  const monthDays = month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number)
  if (day > monthDays) return null
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59) return null
  const fraction = (m[7] ?? '').replace(/0+$/, '')
  const base = ts.slice(0, 19)
  return fraction === '' ? base : `${base}.${fraction}`
}

export function isTimestamp(ts: string): boolean {
  return timestampSortKey(ts) !== null
}

/** Unix seconds as a decimal string (WhatsApp's `timestamp`), no sign, no fraction. */
const UNIX_SECONDS = /^[0-9]{1,12}$/

/**
 * WhatsApp's `timestamp` (Unix seconds, a string) in the contract's grammar,
 * `YYYY-MM-DDTHH:MM:SSZ`, or null when it is not a plain count of seconds in years 1970-9999.
 */
export function timestampFromUnixSeconds(seconds: unknown): string | null {
  if (typeof seconds !== 'string' || !UNIX_SECONDS.test(seconds)) return null
  const ms = Number(seconds) * 1000
  if (ms > Date.UTC(9999, 11, 31, 23, 59, 59)) return null
  return `${new Date(ms).toISOString().slice(0, 19)}Z`
}
