import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, type ListedMessage, type MessageDetail } from '../api.js'
import { useConsole } from '../context.js'
import { TextField } from '../field.js'
import { countOf, inputFromSince, preview, readableTs, sinceFromInput } from '../format.js'
import { useDebounced } from '../hooks.js'
import { compareMessages, matchesFilters } from '../live-filter.js'
import { Link, navigate } from '../navigation.js'
import { newestWindow } from '../paging.js'
import { type InboxFilters, normalizeSender, routeHref } from '../routes.js'
import { MessagePane } from './message.js'

const PAGE = 50

interface ListState {
  items: ListedMessage[]
  total: number
  /** Oldest first: the cursor of the next page. Newest first: unused. */
  next: string | null
  /** Newest first: the total the windows count back from, and how many of them are shown. */
  pinnedTotal: number
  windowed: number
  more: boolean
  loading: boolean
  error: string | null
  /** Ids that arrived live, highlighted until the filters change. */
  fresh: ReadonlySet<string>
}

const EMPTY: ListState = {
  items: [],
  total: 0,
  next: null,
  pinnedTotal: 0,
  windowed: 0,
  more: false,
  loading: true,
  error: null,
  fresh: new Set(),
}

export function Inbox(props: { filters: InboxFilters; messageId: string | null }) {
  const { filters, messageId } = props
  const { api, live, unauthorized } = useConsole()
  const [list, setList] = useState<ListState>(EMPTY)
  const generation = useRef(0)
  const filterKey = JSON.stringify(filters)

  const fail = (error: unknown) => {
    if (error instanceof ApiError && error.status === 401) return unauthorized()
    setList((s) => ({
      ...s,
      loading: false,
      error: error instanceof ApiError ? error.detail : String(error),
    }))
  }

  const loadMore = async (state: ListState, mine: number) => {
    setList({ ...state, loading: true, error: null })
    try {
      if (filters.order === 'oldest') {
        const page = await api.messages(filters, { cursor: state.next })
        if (mine !== generation.current) return
        setList((s) => ({
          ...s,
          items: [...s.items, ...page.data],
          total: page.total,
          next: page.next,
          more: page.next !== null,
          loading: false,
        }))
        return
      }
      let pinned = state.pinnedTotal
      let rows: ListedMessage[]
      if (state.windowed === 0) {
        // The first page: its total pins the windows; a short inbox comes whole at once.
        const first = await api.messages(filters, { offset: 0, limit: PAGE })
        pinned = first.total
        rows = first.total <= PAGE ? first.data : []
        if (first.total > PAGE) {
          const window = newestWindow(pinned, 0, PAGE)
          if (window !== null) rows = (await api.messages(filters, window)).data
        }
      } else {
        const window = newestWindow(pinned, state.windowed, PAGE)
        rows = window === null ? [] : (await api.messages(filters, window)).data
      }
      if (mine !== generation.current) return
      const windowed = state.windowed + rows.length
      setList((s) => ({
        ...s,
        items: [...s.items, ...rows.reverse()],
        total: state.windowed === 0 ? pinned : s.total,
        pinnedTotal: pinned,
        windowed,
        more: windowed < pinned,
        loading: false,
      }))
    } catch (error) {
      if (mine === generation.current) fail(error)
    }
  }

  // A new list whenever the filters change.
  useEffect(() => {
    const mine = ++generation.current
    loadMore(EMPTY, mine)
  }, [filterKey])

  // Live: matching messages join the list where they belong; deleted ones leave it.
  useEffect(
    () =>
      live.subscribe((event) => {
        if (event.type === 'message.created') {
          const message = event.data as MessageDetail
          if (!('from' in message) || !matchesFilters(message, filters)) return
          setList((s) => ({ ...s, ...placeLive(s, message, filters.order), total: s.total + 1 }))
        } else if (event.type === 'message.deleted') {
          const { message_id } = event.data as { message_id: string }
          setList((s) => {
            if (!s.items.some((m) => m.message_id === message_id)) return s
            return { ...s, items: s.items.filter((m) => m.message_id !== message_id), total: s.total - 1 }
          })
        }
      }),
    [filterKey],
  )

  return (
    <div class={messageId === null ? 'inbox-layout' : 'inbox-layout with-detail'}>
      <section class="inbox" aria-labelledby="inbox-title">
        <h1 id="inbox-title" class="visually-hidden">
          Inbox
        </h1>
        <FilterBar filters={filters} />
        <p
          class="total"
          aria-live="polite"
          data-total={list.loading && list.items.length === 0 ? '' : list.total}
        >
          {list.loading && list.items.length === 0 ? 'Loading…' : countOf(list.total, 'message')}
        </p>
        {list.error !== null && (
          <div class="error" role="alert">
            <p>Could not load messages: {list.error}</p>
            <button type="button" onClick={() => loadMore({ ...EMPTY }, ++generation.current)}>
              Try again
            </button>
          </div>
        )}
        {!list.loading && list.error === null && list.items.length === 0 && (
          <p class="empty">
            {filterKey === JSON.stringify({ ...filters, q: '', from: '', since: '' })
              ? 'No messages yet. They appear here as soon as Inlet stores them.'
              : 'No message matches these filters.'}
          </p>
        )}
        <MessageList items={list.items} filters={filters} selected={messageId} fresh={list.fresh} />
        {list.more && (
          <button
            type="button"
            class="more"
            disabled={list.loading}
            onClick={() => loadMore(list, generation.current)}
          >
            {list.loading ? 'Loading…' : 'Load more'}
          </button>
        )}
      </section>
      {messageId !== null && <MessagePane messageId={messageId} filters={filters} />}
    </div>
  )
}

/** Where a live message goes: in order among the loaded rows, or only into the total. */
function placeLive(s: ListState, message: ListedMessage, order: 'newest' | 'oldest'): Partial<ListState> {
  if (s.items.some((m) => m.message_id === message.message_id)) return {}
  const fresh = new Set(s.fresh).add(message.message_id)
  const before =
    order === 'newest'
      ? (m: ListedMessage) => compareMessages(message, m) > 0
      : (m: ListedMessage) => compareMessages(message, m) < 0
  const at = s.items.findIndex(before)
  // Past the loaded rows: it shows when paging reaches it (oldest first, all loaded: at the end).
  if (at === -1 && s.more) return {}
  const items = [...s.items]
  items.splice(at === -1 ? items.length : at, 0, message)
  return { items, fresh }
}

function FilterBar(props: { filters: InboxFilters }) {
  const { filters } = props
  const [q, setQ] = useState(filters.q)
  const [from, setFrom] = useState(filters.from)
  const settledQ = useDebounced(q, 300)
  const settledFrom = useDebounced(from, 300)

  // The address bar follows what is typed (without a history entry per keystroke).
  useEffect(() => {
    const next = { ...filters, q: settledQ, from: normalizeSender(settledFrom) }
    if (next.q !== filters.q || next.from !== filters.from)
      navigate(routeHref({ view: 'inbox', filters: next, messageId: null }), true)
  }, [settledQ, settledFrom])
  // …and the boxes follow the address bar (back button, a shared link).
  useEffect(() => setQ(filters.q), [filters.q])
  useEffect(() => setFrom(filters.from), [filters.from])

  const go = (next: InboxFilters) => navigate(routeHref({ view: 'inbox', filters: next, messageId: null }))
  return (
    <search class="filters" aria-label="Filters">
      <TextField
        id="filter-q"
        class="field grow"
        label="Search text"
        type="search"
        value={q}
        onValue={setQ}
        placeholder="word or phrase"
      />
      <TextField
        id="filter-from"
        label="Sender"
        inputMode="tel"
        value={from}
        onValue={setFrom}
        placeholder="+4915…"
      />
      <div class="field">
        <label for="filter-since">Since (UTC)</label>
        <input
          id="filter-since"
          type="datetime-local"
          step="1"
          value={inputFromSince(filters.since)}
          onChange={(e) => go({ ...filters, since: sinceFromInput(e.currentTarget.value) })}
        />
      </div>
      <div class="field">
        <label for="filter-order">Order</label>
        <select
          id="filter-order"
          value={filters.order}
          onChange={(e) =>
            go({ ...filters, order: e.currentTarget.value === 'oldest' ? 'oldest' : 'newest' })
          }
        >
          <option value="newest">Newest first</option>
          <option value="oldest">Oldest first (API order)</option>
        </select>
      </div>
    </search>
  )
}

function MessageList(props: {
  items: ListedMessage[]
  filters: InboxFilters
  selected: string | null
  fresh: ReadonlySet<string>
}) {
  const listRef = useRef<HTMLUListElement>(null)
  // Arrow keys move between rows; Home and End jump to the ends (Tab still leaves the list).
  const onKeyDown = (event: KeyboardEvent) => {
    const links = Array.from(listRef.current?.querySelectorAll<HTMLAnchorElement>('a.row') ?? [])
    const at = links.indexOf(document.activeElement as HTMLAnchorElement)
    if (at === -1) return
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: links.length - 1 }[event.key]
    if (to === undefined) return
    event.preventDefault()
    links[Math.max(0, Math.min(links.length - 1, to))]?.focus()
  }
  if (props.items.length === 0) return null
  return (
    <ul class="messages" ref={listRef} aria-label="Messages">
      {props.items.map((m) => (
        <li key={m.message_id} class={props.fresh.has(m.message_id) ? 'fresh' : undefined}>
          <Link
            class={m.message_id === props.selected ? 'row selected' : 'row'}
            href={routeHref({ view: 'inbox', filters: props.filters, messageId: m.message_id })}
            aria-current={m.message_id === props.selected ? 'page' : undefined}
            onKeyDown={onKeyDown}
            data-id={m.message_id}
          >
            <span class="row-from">{m.from}</span>
            <time class="row-ts" dateTime={m.ts}>
              {readableTs(m.ts)}
            </time>
            <span class="row-text">{preview(m.text)}</span>
          </Link>
        </li>
      ))}
    </ul>
  )
}
