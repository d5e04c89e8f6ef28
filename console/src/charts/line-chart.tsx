import { bucketLabel, countOf, formatCount } from '../format.js'
import { DataTable } from './bar-chart.js'
import { labelIndexes, linePoints, niceTicks, pathOf } from './scale.js'

export interface LinePoint {
  start: string
  count: number
}

const WIDTH = 640
const HEIGHT = 240
const BOX = { left: 48, top: 12, width: WIDTH - 48 - 16, height: HEIGHT - 12 - 40 }

/** Messages per bucket over time: a line with a dot per bucket, y ticks and a few x labels. */
export function LineChart(props: { points: LinePoint[]; bucket: 'day' | 'hour'; title: string }) {
  const { points, bucket, title } = props
  const ticks = niceTicks(Math.max(0, ...points.map((p) => p.count)))
  const ceiling = ticks.at(-1) ?? 1
  const xy = linePoints(
    points.map((p) => p.count),
    BOX,
    ceiling,
  )
  const yOf = (value: number) => BOX.top + BOX.height * (1 - value / ceiling)
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={title} class="line-chart">
        {ticks.map((tick) => (
          <g key={tick} class="tick">
            <line x1={BOX.left} x2={BOX.left + BOX.width} y1={yOf(tick)} y2={yOf(tick)} class="grid" />
            <text
              x={BOX.left - 6}
              y={yOf(tick)}
              text-anchor="end"
              dominant-baseline="middle"
              class="axis-label"
            >
              {formatCount(tick)}
            </text>
          </g>
        ))}
        {labelIndexes(points.length).map((i) => (
          <text key={i} x={xy[i]?.x} y={BOX.top + BOX.height + 20} text-anchor="middle" class="axis-label">
            {bucketLabel(points[i]?.start ?? '', bucket)}
          </text>
        ))}
        <path d={pathOf(xy)} class="line" />
        {points.map((p, i) => (
          <circle
            key={p.start}
            cx={xy[i]?.x}
            cy={xy[i]?.y}
            r="3.5"
            class="dot"
            data-start={p.start}
            data-value={p.count}
          >
            <title>{`${bucketLabel(p.start, bucket)}: ${countOf(p.count, 'message')}`}</title>
          </circle>
        ))}
      </svg>
      <DataTable
        caption={title}
        head={[bucket === 'day' ? 'Day (UTC)' : 'Hour (UTC)', 'Messages']}
        rows={points.map((p) => [bucketLabel(p.start, bucket), p.count])}
      />
    </figure>
  )
}
