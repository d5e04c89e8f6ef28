import { type Config, ConfigError, loadConfig } from '../config.js'
import { unsupportedNode } from '../runtime.js'
import { CliError, type Env } from './command.js'

/** Where the server is and how to read from it. */
export interface Server {
  /** The base URL without a trailing slash (a path prefix behind a proxy is kept). */
  base: string
  /** The read token, or null when none is given. */
  token: string | null
}

/** `--url` (else INLET_URL, else the server's own PORT on this host) and `--token` (else READ_API_TOKEN). */
export function serverFrom(
  values: { url?: string | undefined; token?: string | undefined },
  env: Env,
): Server {
  const base = values.url ?? (env.INLET_URL || `http://127.0.0.1:${env.PORT || 8000}`)
  let parsed: URL
  try {
    parsed = new URL(base)
  } catch {
    throw new CliError(`--url must be an http:// or https:// URL (got ${JSON.stringify(base)})`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CliError(`--url must be an http:// or https:// URL (got ${JSON.stringify(base)})`)
  }
  return { base: base.replace(/\/+$/, ''), token: values.token || env.READ_API_TOKEN || null }
}

/** A secret from its flag, else from the variable the server reads it from; empty counts as unset. */
export function secretFrom(flag: string, value: string | undefined, variable: string, env: Env): string {
  const secret = value ?? env[variable]
  if (!secret) throw new CliError(`no secret: pass --${flag} or set ${variable}`)
  return secret
}

/**
 * `--database` read exactly as the server reads DATABASE_URL: by loadConfig, over the rest
 * of the environment (SQLITE_BUSY_TIMEOUT_MS, DATABASE_POOL_MAX… apply to the CLI too).
 */
export function configFor(database: string | undefined, env: Env): Config {
  // The server reads an empty DATABASE_URL as unset; an empty flag is a mistake (a shell
  // variable that was not set), not a request for the default database.
  if (database === '') throw new CliError('--database is empty')
  try {
    return loadConfig(database === undefined ? env : { ...env, DATABASE_URL: database })
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message)
    throw error
  }
}

/** Before anything loads a native addon: on an older Node.js it would crash, not explain. */
export function requireSupportedNode(): void {
  const reason = unsupportedNode(process.versions.node)
  if (reason !== null) throw new CliError(reason)
}
