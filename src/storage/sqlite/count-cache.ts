import type { KnownCount } from './message-reader.js'

/**
 * Remembers exact counts of filtered messages, least recently used first out.
 *
 * Messages are never updated and take rising rowids that are never reused, so until a
 * deletion the number of rows up to rowid M that match a filter never changes: a later
 * count only has to add the matches among the rows written since M. A deletion raises the
 * epoch every count carries (KnownCount), and a count from an older epoch is not used. This
 * is what keeps the total of a search for a very common word cheap after its first request.
 */
export class CountCache {
  private readonly entries = new Map<string, KnownCount>()

  constructor(private readonly maxEntries: number) {}

  get(key: string): KnownCount | undefined {
    const known = this.entries.get(key)
    if (known !== undefined) {
      // Map keeps insertion order: re-inserting marks the entry as the most recently used.
      this.entries.delete(key)
      this.entries.set(key, known)
    }
    return known
  }

  set(key: string, known: KnownCount): void {
    this.entries.delete(key)
    this.entries.set(key, known)
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string
      this.entries.delete(oldest)
    }
  }

  get size(): number {
    return this.entries.size
  }
}
