import { useEffect, useMemo, useState } from 'preact/hooks'
import { Api, ApiError } from './api.js'
import type { ConsoleConfig } from './config.js'
import { Console, type ConsoleContext } from './context.js'
import { FeedStream, type StreamState } from './feed-stream.js'
import { LiveEvents } from './live.js'
import { Link, useRoute } from './navigation.js'
import { NO_FILTERS, type Route, routeHref } from './routes.js'
import { adminToken, readToken } from './session.js'
import { Deliveries } from './views/deliveries.js'
import { Inbox } from './views/inbox.js'
import { Stats } from './views/stats.js'
import { TokenMenu, TokenPrompt } from './views/tokens.js'

type Gate = { state: 'open' } | { state: 'asking'; reason: string | null }

export function App(props: { config: ConsoleConfig }) {
  const { config } = props
  const route = useRoute()
  const [gate, setGate] = useState<Gate>(
    config.readToken && readToken.get() === null ? { state: 'asking', reason: null } : { state: 'open' },
  )
  const [admin, setAdmin] = useState(adminToken.get())
  const [streamState, setStreamState] = useState<StreamState>('connecting')
  const live = useMemo(() => new LiveEvents(), [])
  const api = useMemo(() => new Api({ read: readToken.get, admin: adminToken.get }), [])

  const context: ConsoleContext = {
    api,
    config,
    live,
    unauthorized: () => {
      readToken.set(null)
      setGate({ state: 'asking', reason: 'The read token is no longer accepted. Enter it again.' })
    },
    adminToken: admin,
    setAdminToken: (token) => {
      adminToken.set(token)
      setAdmin(token)
    },
  }

  // The live feed, from the feed's head at the moment the console opened.
  useEffect(() => {
    if (gate.state !== 'open') return
    let stream: FeedStream | null = null
    let cancelled = false
    api
      .feedHead()
      .then((after) => {
        if (cancelled) return
        stream = new FeedStream({
          after,
          token: readToken.get,
          onEvent: (event) => live.publish(event),
          onState: (state) => {
            setStreamState(state)
            if (state === 'unauthorized') context.unauthorized()
          },
        })
      })
      .catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 401) context.unauthorized()
        else setStreamState('retrying')
      })
    return () => {
      cancelled = true
      stream?.stop()
    }
  }, [gate.state])

  if (gate.state === 'asking') {
    return (
      <TokenPrompt
        reason={gate.reason}
        check={async (token) => {
          const probe = new Api({ read: () => token, admin: () => null })
          await probe.stats()
          readToken.set(token)
          setGate({ state: 'open' })
        }}
      />
    )
  }

  return (
    <Console.Provider value={context}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Inlet</span>
        <nav aria-label="Console">
          <NavLink route={route} to={{ view: 'inbox', filters: NO_FILTERS, messageId: null }} label="Inbox" />
          <NavLink route={route} to={{ view: 'stats', bucket: 'day' }} label="Stats" />
          {config.forwarding && (
            <NavLink route={route} to={{ view: 'deliveries', status: 'pending' }} label="Deliveries" />
          )}
        </nav>
        <LiveIndicator state={streamState} />
        <TokenMenu
          signOut={
            config.readToken
              ? () => {
                  readToken.set(null)
                  setGate({ state: 'asking', reason: null })
                }
              : null
          }
        />
      </header>
      <main id="main" tabIndex={-1}>
        {route.view === 'inbox' && <Inbox filters={route.filters} messageId={route.messageId} />}
        {route.view === 'stats' && <Stats bucket={route.bucket} />}
        {route.view === 'deliveries' && <Deliveries status={route.status} />}
      </main>
    </Console.Provider>
  )
}

function NavLink(props: { route: Route; to: Route; label: string }) {
  const current = props.route.view === props.to.view
  // The inbox link keeps the inbox's filters while on the inbox.
  const href =
    current && props.route.view === 'inbox'
      ? routeHref({ ...props.route, messageId: null })
      : routeHref(props.to)
  return (
    <Link href={href} class="nav-link" aria-current={current ? 'page' : undefined}>
      {props.label}
    </Link>
  )
}

const STATE_TEXT: Record<StreamState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  retrying: 'Reconnecting…',
  unauthorized: 'Not signed in',
  stopped: 'Offline',
}

function LiveIndicator(props: { state: StreamState }) {
  return (
    <output class={`live live-${props.state}`} aria-live="polite" data-state={props.state}>
      <span class="live-dot" aria-hidden="true" />
      {STATE_TEXT[props.state]}
    </output>
  )
}
