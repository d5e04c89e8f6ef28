import { createContext } from 'preact'
import { useContext } from 'preact/hooks'
import type { Api } from './api.js'
import type { ConsoleConfig } from './config.js'
import type { LiveEvents } from './live.js'

export interface ConsoleContext {
  api: Api
  config: ConsoleConfig
  live: LiveEvents
  /** Called by a view that got a 401: the token is asked for again. */
  unauthorized: () => void
  /** Bumped when the admin token changes, so views that show admin buttons re-render. */
  adminToken: string | null
  setAdminToken: (token: string | null) => void
}

export const Console = createContext<ConsoleContext | null>(null)

export function useConsole(): ConsoleContext {
  const context = useContext(Console)
  if (context === null) throw new Error('useConsole outside the console')
  return context
}
