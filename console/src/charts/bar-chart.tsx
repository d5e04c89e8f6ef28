import { formatCount } from '../format.js'
import { niceTicks } from './scale.js'

export interface Bar {
  label: string
  value: number
}

const ROW = 30
const LABEL_WIDTH = 150
const WIDTH = 640
const COUNT_SPACE = 70

/** Horizontal bars, one row per item, each with its count written beside it. */
export function BarChart(props: { bars: Bar[]; title: string }) {
  const { bars, title } = props
  const max = niceTicks(Math.max(0, ...bars.map((b) => b.value))).at(-1) ?? 1
  const plot = WIDTH - LABEL_WIDTH - COUNT_SPACE
  const height = bars.length * ROW + 8
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={title} class="bar-chart">
        {bars.map((bar, i) => {
          const width = Math.max(2, (bar.value / max) * plot)
          const y = 4 + i * ROW
          return (
            <g key={bar.label} class="bar" data-label={bar.label} data-value={bar.value}>
              <text
                x={LABEL_WIDTH - 8}
                y={y + ROW / 2}
                class="bar-label"
                text-anchor="end"
                dominant-baseline="middle"
              >
                {bar.label}
              </text>
              <rect x={LABEL_WIDTH} y={y + 4} width={width} height={ROW - 8} rx="3" class="bar-rect">
                <title>{`${bar.label}: ${formatCount(bar.value)}`}</title>
              </rect>
              <text x={LABEL_WIDTH + width + 6} y={y + ROW / 2} class="bar-value" dominant-baseline="middle">
                {formatCount(bar.value)}
              </text>
            </g>
          )
        })}
      </svg>
      <DataTable caption={title} head={['Sender', 'Messages']} rows={bars.map((b) => [b.label, b.value])} />
    </figure>
  )
}

/** The chart's numbers as a table, for screen readers (and anyone who wants the figures). */
export function DataTable(props: { caption: string; head: [string, string]; rows: [string, number][] }) {
  return (
    <table class="visually-hidden">
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">{props.head[0]}</th>
          <th scope="col">{props.head[1]}</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map(([label, value]) => (
          <tr key={label}>
            <th scope="row">{label}</th>
            <td>{formatCount(value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
