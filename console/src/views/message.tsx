import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, type MessageDetail, type StatusDetail } from '../api.js'
import { useConsole } from '../context.js'
import { prettyJson, readableTs } from '../format.js'
import { Link, navigate } from '../navigation.js'
import { type InboxFilters, routeHref } from '../routes.js'

type Loaded =
  | { state: 'loading' }
  | { state: 'missing' }
  | { state: 'error'; detail: string }
  | { state: 'ready'; message: MessageDetail; status: StatusDetail | null }

/** One message: every field, its payload and its statuses, and (admin token given) delete. */
export function MessagePane(props: { messageId: string; filters: InboxFilters }) {
  const { messageId, filters } = props
  const { api, live, unauthorized } = useConsole()
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' })
  const [reload, setReload] = useState(0)
  const heading = useRef<HTMLHeadingElement>(null)
  const inboxHref = routeHref({ view: 'inbox', filters, messageId: null })

  useEffect(() => {
    let current = true
    setLoaded({ state: 'loading' })
    Promise.all([api.message(messageId), api.status(messageId)])
      .then(([message, status]) => {
        if (current) setLoaded({ state: 'ready', message, status })
      })
      .catch((error: unknown) => {
        if (!current) return
        if (error instanceof ApiError && error.status === 401) unauthorized()
        else if (error instanceof ApiError && error.status === 404) setLoaded({ state: 'missing' })
        else setLoaded({ state: 'error', detail: error instanceof ApiError ? error.detail : String(error) })
      })
    return () => {
      current = false
    }
  }, [messageId, reload])

  // A status arriving for this message, or its deletion, shows at once.
  useEffect(
    () =>
      live.subscribe((event) => {
        const id = (event.data as { message_id?: string }).message_id
        if (id === messageId && (event.type === 'status.updated' || event.type === 'message.deleted')) {
          setReload((n) => n + 1)
        }
      }),
    [messageId],
  )

  useEffect(() => {
    if (loaded.state !== 'loading') heading.current?.focus()
  }, [loaded.state, messageId])

  return (
    <section
      class="detail"
      aria-labelledby="detail-title"
      onKeyDown={(event) => {
        if (event.key === 'Escape') navigate(inboxHref)
      }}
    >
      <div class="detail-head">
        <h2 id="detail-title" tabIndex={-1} ref={heading}>
          Message
        </h2>
        <Link href={inboxHref} class="close">
          Back to the inbox
        </Link>
      </div>
      {loaded.state === 'loading' && <p>Loading…</p>}
      {loaded.state === 'missing' && <p class="empty">No message has this id (it may have been deleted).</p>}
      {loaded.state === 'error' && (
        <p class="error" role="alert">
          Could not load the message: {loaded.detail}
        </p>
      )}
      {loaded.state === 'ready' && (
        <>
          <Fields message={loaded.message} />
          <Statuses status={loaded.status} />
          <h3>Payload</h3>
          {loaded.message.payload === null ? (
            <p class="note">None: messages from POST /webhook keep only the five fields.</p>
          ) : (
            // biome-ignore lint/a11y/noNoninteractiveTabindex: a region that scrolls must be reachable by keyboard (WCAG 2.1.1)
            <section class="payload" aria-label="Payload as JSON" tabIndex={0}>
              <pre>{prettyJson(loaded.message.payload)}</pre>
            </section>
          )}
          <DeleteMessage
            messageId={messageId}
            done={() => {
              // The list leaves it now, whether or not the stream delivers the deletion's event
              // (it starts at the feed's head when the page opened, which may be after it).
              live.publish({
                id: '',
                type: 'message.deleted',
                data: { message_id: messageId, reason: 'single' },
              })
              navigate(inboxHref)
            }}
          />
        </>
      )}
    </section>
  )
}

function Fields(props: { message: MessageDetail }) {
  const m = props.message
  const rows: [string, string | null][] = [
    ['Message id', m.message_id],
    ['From', m.from],
    ['To', m.to],
    ['Sent (ts)', m.ts],
    ['Source', m.source],
    ['Type', m.type],
    ['Contact name', m.contact_name],
    ['Received', readableTs(m.received_at)],
  ]
  return (
    <>
      <blockquote class="text">{m.text ?? <em>(no text)</em>}</blockquote>
      <dl class="fields">
        {rows.map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>{value ?? '—'}</dd>
          </div>
        ))}
      </dl>
    </>
  )
}

function Statuses(props: { status: StatusDetail | null }) {
  const { status } = props
  if (status === null) return null
  return (
    <>
      <h3>Statuses</h3>
      <p>
        Current: <strong class={`status status-${status.status}`}>{status.status}</strong> for{' '}
        {status.recipient_id}, since {readableTs(status.updated_at)}
      </p>
      <ol class="timeline" aria-label="Status history">
        {status.history.map((entry) => (
          <li key={entry.status} class={`status-${entry.status}`}>
            <span class="status">{entry.status}</span> <time dateTime={entry.ts}>{readableTs(entry.ts)}</time>
            {entry.errors !== null && entry.errors.length > 0 && (
              <pre class="errors">{prettyJson(entry.errors)}</pre>
            )}
          </li>
        ))}
      </ol>
    </>
  )
}

function DeleteMessage(props: { messageId: string; done: () => void }) {
  const { api, config, adminToken, setAdminToken } = useConsole()
  const [confirming, setConfirming] = useState(false)
  const [error, setError] = useState<string | null>(null)
  if (!config.admin) return null
  if (adminToken === null) {
    return <p class="note">To delete this message, set the admin token under Tokens.</p>
  }
  const remove = async () => {
    setError(null)
    try {
      await api.deleteMessage(props.messageId)
      props.done()
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 401) {
        setAdminToken(null)
        setError('The admin token was refused; it has been forgotten.')
      } else {
        setError(failure instanceof ApiError ? failure.detail : String(failure))
      }
      setConfirming(false)
    }
  }
  return (
    <div class="danger">
      {confirming ? (
        <p>
          Delete this message for good?{' '}
          <button type="button" class="destructive" onClick={remove}>
            Yes, delete
          </button>{' '}
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </p>
      ) : (
        <button type="button" class="destructive" onClick={() => setConfirming(true)}>
          Delete message
        </button>
      )}
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  )
}
