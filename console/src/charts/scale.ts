// Axis arithmetic for the console's two SVG charts. Pure: unit-tested in Node.

/** Round tick values from 0 to a ceiling at or above `max`: steps of 1, 2 or 5 × 10^k, whole numbers (counts). */
export function niceTicks(max: number, target = 4): number[] {
  if (!(max > 0)) return [0, 1]
  const rough = max / target
  const magnitude = 10 ** Math.floor(Math.log10(rough))
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? 10 * magnitude)
  const top = Math.ceil(max / step) * step
  const ticks: number[] = []
  for (let i = 0; i * step <= top + step / 2; i++) ticks.push(Number((i * step).toPrecision(12)))
  return ticks
}

export interface Point {
  x: number
  y: number
}

/** Where each value sits in a plot box: evenly spaced in x, 0…top mapped bottom…top in y. */
export function linePoints(
  values: number[],
  box: { left: number; top: number; width: number; height: number },
  ceiling: number,
): Point[] {
  const n = values.length
  return values.map((value, i) => ({
    x: box.left + (n === 1 ? box.width / 2 : (i * box.width) / (n - 1)),
    y: box.top + box.height * (1 - (ceiling > 0 ? value / ceiling : 0)),
  }))
}

export function pathOf(points: Point[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' ')
}

/** Which of `n` positions get an axis label: about `target` of them, always the first and last. */
export function labelIndexes(n: number, target = 6): number[] {
  if (n <= target) return Array.from({ length: n }, (_, i) => i)
  const every = Math.ceil((n - 1) / (target - 1))
  const indexes: number[] = []
  for (let i = 0; i < n - 1; i += every) indexes.push(i)
  if (n - 1 - (indexes.at(-1) ?? 0) < every / 2) indexes.pop()
  indexes.push(n - 1)
  return indexes
}
