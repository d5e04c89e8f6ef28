/**
 * The adapter's advisory lock keys, in one place so that no two share a number: a shared key
 * once made the counter fold take the feed's commit-order lock, so every commit waited for
 * the fold (and the fold skipped whenever a commit held it).
 */
export const ADVISORY_LOCKS = {
  /** Every Inlet process takes it while it migrates. */
  migration: 0x1e1e7,
  /** Positions are handed out under it, until the COMMIT (feed-sql.ts). */
  commitOrder: 0x1e1e8,
  /** The replica folding the sender counters holds it meanwhile. */
  fold: 0x1e1e9,
  /** The replica merging the search index's pending entries holds it meanwhile. */
  searchUpkeep: 0x1e1ea,
} as const
