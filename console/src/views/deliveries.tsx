import { useEffect, useState } from 'preact/hooks'
import { ApiError, type Delivery } from '../api.js'
import { useConsole } from '../context.js'
import { readableTs } from '../format.js'
import { Link } from '../navigation.js'
import { type DeliveryStatus, routeHref } from '../routes.js'

interface Loaded {
  items: Delivery[]
  next: string | null
}

/** Forwarded events: pending and failed deliveries with their last error, and retry. */
export function Deliveries(props: { status: DeliveryStatus }) {
  const { status } = props
  const { api, config, adminToken, unauthorized } = useConsole()
  const [loaded, setLoaded] = useState<Loaded | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [version, setVersion] = useState(0)

  const report = (failure: unknown) => {
    if (failure instanceof ApiError && failure.status === 401) unauthorized()
    else setError(failure instanceof ApiError ? failure.detail : String(failure))
  }

  useEffect(() => {
    let current = true
    setLoaded(null)
    setError(null)
    api
      .deliveries(status, null)
      .then((page) => current && setLoaded({ items: page.data, next: page.next }))
      .catch((failure: unknown) => current && report(failure))
    return () => {
      current = false
    }
  }, [status, version])

  if (!config.forwarding) {
    return <p class="empty">Forwarding is off: set FORWARD_URL and FORWARD_SECRET to forward every event.</p>
  }

  const retry = async (delivery: Delivery) => {
    setNotice(null)
    try {
      await api.retryDelivery(delivery.id)
      setNotice(`Delivery ${delivery.id} is scheduled again.`)
      setVersion((n) => n + 1)
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 401) setNotice('The admin token was refused.')
      else setNotice(failure instanceof ApiError ? failure.detail : String(failure))
    }
  }

  return (
    <div class="deliveries">
      <h1>Deliveries</h1>
      <nav class="segmented" aria-label="Show">
        {(['pending', 'failed', 'delivered'] as const).map((s) => (
          <Link
            key={s}
            href={routeHref({ view: 'deliveries', status: s })}
            aria-current={s === status ? 'page' : undefined}
          >
            {s[0]?.toUpperCase()}
            {s.slice(1)}
          </Link>
        ))}
      </nav>
      {notice !== null && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {error !== null && (
        <p class="error" role="alert">
          Could not load deliveries: {error}
        </p>
      )}
      {loaded === null && error === null && <p>Loading…</p>}
      {loaded !== null && loaded.items.length === 0 && <p class="empty">No {status} deliveries.</p>}
      {loaded !== null && loaded.items.length > 0 && (
        <div class="table-scroll">
          <table class="delivery-table">
            <caption class="visually-hidden">{status} deliveries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Event</th>
                <th scope="col">Destination</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last answer</th>
                <th scope="col">{status === 'delivered' ? 'Delivered' : 'Next attempt'}</th>
                {status === 'failed' && <th scope="col">Retry</th>}
              </tr>
            </thead>
            <tbody>
              {loaded.items.map((d) => (
                <tr key={d.id}>
                  <td>{d.id}</td>
                  <td>{d.event_id}</td>
                  <td class="destination">{d.destination}</td>
                  <td>{d.attempts}</td>
                  <td>{lastAnswer(d)}</td>
                  <td>{readableOrDash(status === 'delivered' ? d.delivered_at : d.next_attempt_at)}</td>
                  {status === 'failed' && (
                    <td>
                      {adminToken === null ? (
                        <span class="note">Admin token needed</span>
                      ) : (
                        <button type="button" onClick={() => retry(d)}>
                          Retry <span class="visually-hidden">delivery {d.id}</span>
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {loaded?.next != null && (
        <button
          type="button"
          class="more"
          onClick={() =>
            api
              .deliveries(status, loaded.next)
              .then((page) => setLoaded({ items: [...loaded.items, ...page.data], next: page.next }))
              .catch(report)
          }
        >
          Load more
        </button>
      )}
    </div>
  )
}

/** `HTTP 500`, the error the attempt met, both, or a dash before any attempt. */
const lastAnswer = (d: Delivery) =>
  [d.last_status_code === null ? null : `HTTP ${d.last_status_code}`, d.last_error]
    .filter(Boolean)
    .join(': ') || '—'

const readableOrDash = (ts: string | null) => (ts === null ? '—' : readableTs(ts))
