/**
 * How a search finds its page of matches in the contract's order. The cheapest way depends
 * on how common the word is, which the exact count (known before the page) tells:
 * - `test-each-row`: walk the ordering index and test each row's folded text; best when
 *   matches are dense, because the page is found after a few rows.
 * - `walk-match-set`: collect the search index's matches into a set, then walk the
 *   ordering index looking each row up in it; best in between.
 * - `sort-matches`: fetch every match and sort them; best when they are few.
 */
export type SearchPlan = 'test-each-row' | 'walk-match-set' | 'sort-matches'

/**
 * Relative costs per row, measured on a million-row database: folding and testing a row's
 * text while walking; looking a walked row up in the match set; adding a match to that
 * set; fetching a match's row and sorting it.
 */
const COST_TEST_TEXT = 10
const COST_WALK_SET = 1
const COST_BUILD_SET = 2
const COST_FETCH_SORT = 12

/** `matches` of `rows` rows match (at least one); the page ends `end` matches into them. */
export function chooseSearchPlan(matches: number, rows: number, end: number): SearchPlan {
  // Walking the ordering index meets a match every rows/matches rows.
  const rowsToWalk = (end * rows) / matches
  const testEachRow = rowsToWalk * COST_TEST_TEXT
  const walkMatchSet = matches * COST_BUILD_SET + rowsToWalk * COST_WALK_SET
  const sortMatches = matches * COST_FETCH_SORT
  if (sortMatches <= Math.min(testEachRow, walkMatchSet)) return 'sort-matches'
  return testEachRow <= walkMatchSet ? 'test-each-row' : 'walk-match-set'
}
