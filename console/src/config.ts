// What the server said about this deployment, in the page's <meta name="inlet-console">.
export interface ConsoleConfig {
  /** READ_API_TOKEN is set: every read needs it. */
  readToken: boolean
  /** ADMIN_TOKEN is set: deletes and retries are possible (with it). */
  admin: boolean
  /** FORWARD_URL is set: there are deliveries to show. */
  forwarding: boolean
}

export function readConfig(): ConsoleConfig {
  const raw = document.querySelector('meta[name="inlet-console"]')?.getAttribute('content') ?? '{}'
  let parsed: Partial<ConsoleConfig> = {}
  try {
    parsed = JSON.parse(raw) as Partial<ConsoleConfig>
  } catch {
    // the page came from somewhere other than Inlet: assume the most cautious answers
  }
  return {
    readToken: parsed.readToken === true,
    admin: parsed.admin === true,
    forwarding: parsed.forwarding === true,
  }
}
