import { useState } from 'preact/hooks'
import { ApiError } from '../api.js'
import { useConsole } from '../context.js'
import { TextField } from '../field.js'

/** Asks for READ_API_TOKEN; `check` resolves when the server accepts it. */
export function TokenPrompt(props: { reason: string | null; check: (token: string) => Promise<void> }) {
  const [token, setToken] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  return (
    <main class="token-page" id="main">
      <form
        class="token-form"
        aria-labelledby="token-title"
        onSubmit={async (event) => {
          event.preventDefault()
          setBusy(true)
          setError(null)
          try {
            await props.check(token.trim())
          } catch (failure) {
            setError(
              failure instanceof ApiError && failure.status === 401
                ? 'That token was refused: it is not this server’s read token.'
                : failure instanceof ApiError
                  ? `Inlet answered: ${failure.detail}`
                  : 'Inlet cannot be reached.',
            )
          } finally {
            setBusy(false)
          }
        }}
      >
        <h1 id="token-title">Inlet console</h1>
        <p>
          {props.reason ?? 'This Inlet asks for its read token (READ_API_TOKEN) before it shows messages.'}
        </p>
        <label for="read-token">Read token</label>
        <input
          id="read-token"
          type="password"
          autocomplete="off"
          required
          value={token}
          onInput={(event) => setToken(event.currentTarget.value)}
          aria-describedby={error === null ? 'token-note' : 'token-error'}
          aria-invalid={error !== null}
        />
        <p id="token-note" class="note">
          Kept in this tab’s session storage only, and sent as a bearer header.
        </p>
        {error !== null && (
          <p id="token-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || token.trim() === ''}>
          {busy ? 'Checking…' : 'Open the console'}
        </button>
      </form>
    </main>
  )
}

/** The admin token (for deletes and retries) and signing out, in a menu in the header. */
export function TokenMenu(props: { signOut: (() => void) | null }) {
  const { config, adminToken, setAdminToken } = useConsole()
  const [draft, setDraft] = useState('')
  if (!config.admin && props.signOut === null) return null
  return (
    <details class="token-menu">
      <summary>Tokens</summary>
      <div class="token-menu-body">
        {config.admin &&
          (adminToken === null ? (
            <form
              onSubmit={(event) => {
                event.preventDefault()
                if (draft.trim() !== '') setAdminToken(draft.trim())
                setDraft('')
              }}
            >
              <TextField
                id="admin-token"
                label="Admin token (to delete and retry)"
                type="password"
                value={draft}
                onValue={setDraft}
              />
              <button type="submit">Use admin token</button>
            </form>
          ) : (
            <p>
              Admin token set.{' '}
              <button type="button" onClick={() => setAdminToken(null)}>
                Forget it
              </button>
            </p>
          ))}
        {props.signOut !== null && (
          <button type="button" onClick={props.signOut}>
            Sign out
          </button>
        )}
      </div>
    </details>
  )
}
