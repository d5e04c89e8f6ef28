import { CliError } from './command.js'
import type { Server } from './targets.js'

/** `${base}${path}` with the given query parameters (those undefined are left out). */
export function endpoint(server: Server, path: string, query: Record<string, string | undefined> = {}): URL {
  const url = new URL(`${server.base}${path}`)
  for (const [name, value] of Object.entries(query))
    if (value !== undefined) url.searchParams.set(name, value)
  return url
}

/** The headers of a read endpoint: the bearer token when there is one. */
export function readHeaders(server: Server, extra: Record<string, string> = {}): Record<string, string> {
  return server.token === null ? extra : { authorization: `Bearer ${server.token}`, ...extra }
}

/** Why a connection failed, in a few words: the system's code (ECONNREFUSED…) when there is one. */
export function connectionProblem(url: URL, error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  return `cannot reach ${url.origin} (${cause?.code ?? cause?.message ?? (error as Error).message})`
}

/** fetch, with a connection failure as one line. An abort is rethrown as is. */
export async function request(url: URL, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(url, init)
  } catch (error) {
    if (init.signal?.aborted) throw error
    throw new CliError(connectionProblem(url, error))
  }
}

/** The response when it is a 2xx; otherwise its status and the server's `detail` as one line. */
export async function expectOk(response: Response, server?: Server): Promise<Response> {
  if (response.ok) return response
  throw new CliError(await failureOf(response, server))
}

/** `401 unauthorized`, `422 since: Input should be…`: the status and what the body says. */
export async function failureOf(response: Response, server?: Server): Promise<string> {
  const text = await response.text().catch(() => '')
  let detail: unknown = text
  try {
    detail = (JSON.parse(text) as { detail?: unknown }).detail ?? text
  } catch {
    // not JSON: the text itself, shortened below
  }
  const said = describeDetail(detail) || response.statusText
  const hint =
    response.status === 401 && server !== undefined
      ? server.token === null
        ? ' (pass --token or set READ_API_TOKEN)'
        : ' (check --token / READ_API_TOKEN)'
      : ''
  return `${response.status} ${said}${hint}`
}

/**
 * The contract's `detail`: a message, or FastAPI's list of problems, of which the first is
 * shown with the field it concerns (`from: String should match pattern …`).
 */
export function describeDetail(detail: unknown): string {
  if (Array.isArray(detail)) {
    const first = detail[0] as { loc?: unknown[]; msg?: unknown } | undefined
    if (first === undefined) return 'invalid request'
    const field = (first.loc ?? []).slice(1).join('.')
    return field === '' ? String(first.msg) : `${field}: ${String(first.msg)}`
  }
  return oneLine(String(detail)).slice(0, 200)
}

/**
 * Text on one line, safe for a terminal: backslash, line breaks and every control character
 * (an escape sequence in a message could rewrite the screen) escaped, JSON-style.
 */
export function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return text.replace(/[\\\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (char) => {
    switch (char) {
      case '\\':
        return '\\\\'
      case '\n':
        return '\\n'
      case '\r':
        return '\\r'
      case '\t':
        return '\\t'
      default:
        return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`
    }
  })
}
