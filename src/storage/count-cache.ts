/**
 * An exact count of the messages that match a filter, among those up to position `upTo` in
 * commit order (SQLite: the rowid; PostgreSQL: the feed's event position), taken when the
 * store's deletion epoch was `epoch`.
 */
export interface KnownCount {
  count: number
  upTo: number
  epoch: number
  /** PostgreSQL: how many messages there were in all, for the plan's choice (walkPays). */
  of?: number
  /** PostgreSQL: where a search counts, chosen by sizes at its first request (postgres-store.ts search). */
  plan?: 'rows' | 'texts'
  /** PostgreSQL: the matches' seqs when they are few (postgres-store.ts search), by which a page is read. */
  seqs?: string[]
}

/**
 * Remembers exact counts of filtered messages, least recently used first out.
 *
 * Messages are never updated and take positions in commit order, so until a deletion the
 * number of messages up to position M that match a filter never changes: a later count only
 * has to add the matches among the messages committed since M. A deletion raises the epoch
 * every count carries, and a count from an older epoch is not used. This is what keeps the
 * total of a search for a very common word cheap after its first request.
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
