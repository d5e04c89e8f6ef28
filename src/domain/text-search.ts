const ASCII_ONLY = /^\p{ASCII}*$/u
const foldedCodePoints = new Map<string, string>()

function foldCodePoint(ch: string): string {
  let folded = foldedCodePoints.get(ch)
  if (folded === undefined) {
    // Upper then lower approximates Unicode full case folding (ß→ss, ς→σ, É→é)
    // without a locale. It is applied per code point so that folding a substring
    // gives a substring of the folded text (whole-string toLowerCase has
    // context rules, such as Greek final sigma, that would break that).
    folded = ch.toUpperCase().toLowerCase()
    foldedCodePoints.set(ch, folded)
  }
  return folded
}

/**
 * The case-insensitive form used by `q`: a message matches when foldCase(q) is a
 * substring of foldCase(text). Every store uses this one function so that search
 * answers are identical across adapters.
 */
export function foldCase(text: string): string {
  if (ASCII_ONLY.test(text)) return text.toLowerCase()
  let out = ''
  for (const ch of text) out += ch <= '\x7f' ? ch.toLowerCase() : foldCodePoint(ch)
  return out
}

/** The reference semantics of `q`, also used by tests to check every adapter. */
export function matchesQuery(text: string | null, q: string): boolean {
  return text !== null && foldCase(text).includes(foldCase(q))
}
