/** How GET /stats/timeline groups messages: by the UTC day or hour of their `ts`. */
export type Bucket = 'day' | 'hour'

/** A bucket's first instant and how many messages have their `ts` in it. */
export interface TimelinePoint {
  start: string
  count: number
}

/** How many leading characters of a timestamp's sort key name its bucket: `YYYY-MM-DD`, `YYYY-MM-DDTHH`. */
export const BUCKET_KEY_LENGTH: Record<Bucket, number> = { day: 10, hour: 13 }

const STEP_MS: Record<Bucket, number> = { day: 86_400_000, hour: 3_600_000 }

function bucketDate(key: string): Date {
  const date = new Date(0)
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999.
  date.setUTCFullYear(Number(key.slice(0, 4)), Number(key.slice(5, 7)) - 1, Number(key.slice(8, 10)))
  date.setUTCHours(key.length > 10 ? Number(key.slice(11, 13)) : 0)
  return date
}

/**
 * The keys of the `buckets` buckets that end with the one holding `lastKey` (the latest
 * message's sort key), oldest first; none before year 1.
 */
export function bucketKeys(lastKey: string, bucket: Bucket, buckets: number): string[] {
  const length = BUCKET_KEY_LENGTH[bucket]
  const last = bucketDate(lastKey.slice(0, length)).getTime()
  const keys: string[] = []
  for (let i = buckets - 1; i >= 0; i--) {
    const iso = new Date(last - i * STEP_MS[bucket]).toISOString()
    if (/^\d{4}-/.test(iso) && !iso.startsWith('0000')) keys.push(iso.slice(0, length))
  }
  return keys
}

/** Every bucket of `keys` with its count (0 where none was counted), as the API answers it. */
export function timelinePoints(keys: string[], counted: ReadonlyMap<string, number>): TimelinePoint[] {
  return keys.map((key) => ({
    start: key.length > 10 ? `${key}:00:00Z` : `${key}T00:00:00Z`,
    count: counted.get(key) ?? 0,
  }))
}
