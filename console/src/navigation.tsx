import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { parseRoute, type Route } from './routes.js'

type Listener = () => void
const listeners = new Set<Listener>()

/** Goes to `href` inside the console without a reload; `replace` for filter edits (no history entry each keystroke). */
export function navigate(href: string, replace = false): void {
  if (href === `${location.pathname}${location.search}`) return
  if (replace) history.replaceState(null, '', href)
  else history.pushState(null, '', href)
  for (const listener of listeners) listener()
}

/** The route in the address bar, following navigate() and the back/forward buttons. */
export function useRoute(): Route {
  const read = () => parseRoute(location.pathname, location.search)
  const [route, setRoute] = useState(read)
  useEffect(() => {
    const update = () => setRoute(read())
    listeners.add(update)
    window.addEventListener('popstate', update)
    return () => {
      listeners.delete(update)
      window.removeEventListener('popstate', update)
    }
  }, [])
  return route
}

/** A plain link that navigates inside the console (a modified click still opens a new tab). */
export function Link(props: {
  href: string
  children: ComponentChildren
  class?: string
  'aria-current'?: 'page' | undefined
  onKeyDown?: (event: KeyboardEvent) => void
  'data-id'?: string
}) {
  const { href, children, ...rest } = props
  return (
    <a
      href={href}
      {...rest}
      onClick={(event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
        event.preventDefault()
        navigate(href)
      }}
    >
      {children}
    </a>
  )
}
