/**
 * How a filtered read finds its page in the contract's order. The exact total (counted
 * before the page) and the sizes the store keeps tell which way is cheapest:
 * - `time-walk-test`: walk the ordering index (from `since`, or the cursor) and test each
 *   row; best when matches are dense, because the page fills after a few rows.
 * - `time-walk-set`: collect the search index's matches into a set, then walk the ordering
 *   index looking each row up in it; best in between.
 * - `sort-matches`: fetch every search match that passes the other filters and sort them;
 *   best when they are few.
 * - `sender-walk`: walk one sender's rows in order (the sender index) and test each; best
 *   when the sender has fewer rows than the word has matches.
 */
export type PagePlan = 'time-walk-test' | 'time-walk-set' | 'sort-matches' | 'sender-walk'

/**
 * Relative costs per row, measured on a million-row database: testing a row's folded text
 * while walking; looking a walked row up in the match set; adding a match to that set;
 * fetching a match's row and sorting it; walking a sender's row (a join, then the test).
 */
const COST_TEST_TEXT = 10
const COST_WALK_SET = 1
const COST_BUILD_SET = 2
const COST_FETCH_SORT = 12
const COST_SENDER_ROW = 14

export interface PlanInputs {
  /** The exact number of rows the page is drawn from (at least one). */
  total: number
  /** Rows the ordering index would walk through: all of them, or those since `since`. */
  rangeRows: number
  /** The search index's matches for q, before other filters; undefined without an indexed q. */
  indexMatches: number | undefined
  /** The sender's rows, when `from` is set. */
  senderRows: number | undefined
  /** The page ends this many matches in (offset + limit). */
  end: number
}

/** A walk meets a match every rows/total rows; it stops at the page's end. */
const walked = (p: Pick<PlanInputs, 'end' | 'total'>, rows: number) =>
  Math.min(rows, (p.end * rows) / p.total)

/**
 * How many index matches an index plan could have and still beat the best walk: a page
 * plan probes the index no further (indexMatches above that offers nothing), so choosing
 * costs less than the plan it chooses.
 */
export function indexMatchesWorthKnowing(p: Omit<PlanInputs, 'indexMatches'>): number {
  let best = walked(p, p.rangeRows) * COST_TEST_TEXT
  if (p.senderRows !== undefined) best = Math.min(best, walked(p, p.senderRows) * COST_SENDER_ROW)
  return Math.ceil(best / COST_BUILD_SET)
}

export function choosePagePlan(p: PlanInputs): PagePlan {
  const costs: [PagePlan, number][] = []
  costs.push(['time-walk-test', walked(p, p.rangeRows) * COST_TEST_TEXT])
  if (p.indexMatches !== undefined) {
    costs.push(['time-walk-set', p.indexMatches * COST_BUILD_SET + walked(p, p.rangeRows) * COST_WALK_SET])
    costs.push(['sort-matches', p.indexMatches * COST_FETCH_SORT])
  }
  if (p.senderRows !== undefined) costs.push(['sender-walk', walked(p, p.senderRows) * COST_SENDER_ROW])
  // Ties go to the plan listed last: the one that reads fewer rows for a small answer.
  let best = costs[0] as [PagePlan, number]
  for (const cost of costs) if (cost[1] <= best[1]) best = cost
  return best[0]
}
