/**
 * Two well-formed strings in UTF-8 byte order (the contract's order of message_id), without
 * encoding them: for well-formed text that is code-point order. UTF-16 code units agree with
 * it except that a surrogate (part of a code point above U+FFFF) sorts after every other unit.
 * Plain JavaScript, so the console orders rows exactly as the stores do.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    const xs = x >= 0xd800 && x <= 0xdfff
    const ys = y >= 0xd800 && y <= 0xdfff
    if (xs !== ys) return xs ? 1 : -1
    return x - y
  }
  return a.length - b.length
}
