import { useEffect, useState } from 'preact/hooks'
import { ApiError, type Stats as StatsAnswer, type TimelinePoint } from '../api.js'
import { BarChart } from '../charts/bar-chart.js'
import { LineChart } from '../charts/line-chart.js'
import { useConsole } from '../context.js'
import { formatCount, readableTs } from '../format.js'
import { Link } from '../navigation.js'
import { type Bucket, NO_FILTERS, routeHref } from '../routes.js'

/** How often at most the figures are read again while messages arrive live. */
const REFRESH_MS = 1000

type Loaded = { stats: StatsAnswer; timeline: TimelinePoint[] } | null

export function Stats(props: { bucket: Bucket }) {
  const { bucket } = props
  const { api, live, unauthorized } = useConsole()
  const [loaded, setLoaded] = useState<Loaded>(null)
  const [error, setError] = useState<string | null>(null)
  const [version, setVersion] = useState(0)

  useEffect(() => {
    let current = true
    Promise.all([api.stats(), api.timeline(bucket)])
      .then(([stats, timeline]) => {
        if (!current) return
        setLoaded({ stats, timeline })
        setError(null)
      })
      .catch((failure: unknown) => {
        if (!current) return
        if (failure instanceof ApiError && failure.status === 401) unauthorized()
        else setError(failure instanceof ApiError ? failure.detail : String(failure))
      })
    return () => {
      current = false
    }
  }, [bucket, version])

  // New and deleted messages change the figures: read them again, at most once a second.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const stop = live.subscribe((event) => {
      if (event.type !== 'message.created' && event.type !== 'message.deleted') return
      timer ??= setTimeout(() => {
        timer = undefined
        setVersion((n) => n + 1)
      }, REFRESH_MS)
    })
    return () => {
      stop()
      clearTimeout(timer)
    }
  }, [])

  if (error !== null && loaded === null) {
    return (
      <p class="error" role="alert">
        Could not load the stats: {error}
      </p>
    )
  }
  if (loaded === null) return <p>Loading…</p>
  const { stats, timeline } = loaded
  return (
    <div class="stats">
      <h1>Stats</h1>
      <dl class="cards">
        <div>
          <dt>Messages</dt>
          <dd data-stat="total">{formatCount(stats.total_messages)}</dd>
        </div>
        <div>
          <dt>Senders</dt>
          <dd data-stat="senders">{formatCount(stats.senders_count)}</dd>
        </div>
        <div>
          <dt>First message</dt>
          <dd>{stats.first_message_ts === null ? '—' : readableTs(stats.first_message_ts)}</dd>
        </div>
        <div>
          <dt>Last message</dt>
          <dd>{stats.last_message_ts === null ? '—' : readableTs(stats.last_message_ts)}</dd>
        </div>
      </dl>
      <section aria-labelledby="top-senders">
        <h2 id="top-senders">Top senders</h2>
        {stats.messages_per_sender.length === 0 ? (
          <p class="empty">No messages yet.</p>
        ) : (
          <BarChart
            title="Messages per sender, the 10 who send most"
            bars={stats.messages_per_sender.map((s) => ({ label: s.from, value: s.count }))}
          />
        )}
        <ul class="sender-links">
          {stats.messages_per_sender.map((s) => (
            <li key={s.from}>
              <Link
                href={routeHref({ view: 'inbox', filters: { ...NO_FILTERS, from: s.from }, messageId: null })}
              >
                {s.from}’s messages
              </Link>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="over-time">
        <div class="section-head">
          <h2 id="over-time">Messages per {bucket}</h2>
          <nav class="segmented" aria-label="Group by">
            {(['day', 'hour'] as const).map((b) => (
              <Link
                key={b}
                href={routeHref({ view: 'stats', bucket: b })}
                aria-current={b === bucket ? 'page' : undefined}
              >
                {b === 'day' ? 'Per day' : 'Per hour'}
              </Link>
            ))}
          </nav>
        </div>
        {timeline.length === 0 ? (
          <p class="empty">No messages yet.</p>
        ) : (
          <LineChart
            points={timeline}
            bucket={bucket}
            title={`Messages per ${bucket} (UTC), the ${timeline.length} ${bucket}s up to the latest message`}
          />
        )}
      </section>
    </div>
  )
}
