import { createRequire } from 'node:module'
import { fastifySwagger } from '@fastify/swagger'
import { fastifySwaggerUi } from '@fastify/swagger-ui'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { errorAnswer } from './schemas.js'

/** The security schemes of the document; routes name the one their group checks. */
export type SecurityScheme = 'readToken' | 'metricsToken' | 'adminToken'

const SECURITY_SCHEMES = {
  readToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'READ_API_TOKEN: required on every read of stored data while it is set.',
  },
  metricsToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'METRICS_TOKEN: required on /metrics while it is set.',
  },
  adminToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'ADMIN_TOKEN: the admin endpoints answer 403 while it is unset.',
  },
} as const

/**
 * GET /openapi.json and the interactive page at GET /docs (SPEC 2.5). The document is
 * generated from the route schemas, so it is registered before any route. The page's assets
 * are the ones bundled in @fastify/swagger-ui: nothing is fetched from the internet.
 */
export function registerOpenApi(app: FastifyInstance): void {
  app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Inlet',
        version: VERSION,
        description:
          'A self-hostable inbox for messaging webhooks: signed, stored exactly once, durably, and served back.',
      },
      components: { securitySchemes: SECURITY_SCHEMES },
    },
    transformObject: (document) =>
      toOpenApiKeywords(
        'openapiObject' in document ? document.openapiObject : document.swaggerObject,
      ) as never,
  })
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger())
  // Every route may fail unexpectedly; documented once here rather than on each.
  app.addHook('onRoute', (route) => {
    if (route.schema !== undefined) document(route, { response: INTERNAL_ERROR })
  })
  app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    uiConfig: { docExpansion: 'list', deepLinking: true },
  })
}

/**
 * An onRoute hook for a group of routes behind one token: each route documents the scheme
 * and the error answer of a missing or wrong token (and of a disabled admin API).
 */
export function documentSecurity(scheme: SecurityScheme, errors: Record<number, unknown>) {
  return (route: RouteOptions) => document(route, { security: [{ [scheme]: [] }], response: errors })
}

/** Adds to a documented route's schema (its answers merged with the route's own). */
function document(
  route: RouteOptions,
  extra: { security?: unknown; response: Record<number, unknown> },
): void {
  const schema = (route.schema ?? {}) as Record<string, unknown>
  if (schema.hide === true) return
  route.schema = {
    ...schema,
    ...extra,
    response: { ...(schema.response as object), ...extra.response },
  } as RouteOptions['schema']
}

/** The 401 of a route behind a bearer token. */
export const UNAUTHORIZED = { 401: errorAnswer('The token is missing or wrong: `{"detail":"unauthorized"}`') }

/** The 403 of an admin route while ADMIN_TOKEN is unset. */
export const ADMIN_DISABLED = {
  403: errorAnswer('ADMIN_TOKEN is not set: `{"detail":"admin API disabled"}`'),
}

const INTERNAL_ERROR = {
  500: errorAnswer('Anything unexpected: `{"detail":"Internal Server Error"}`; the cause is in the log only'),
}

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version

/**
 * The route schemas carry the validator's own keywords (validation.ts); the document says
 * the same in OpenAPI's terms: a query integer is an integer with its range and default,
 * `storable` (well-formed text without NUL) has no OpenAPI equivalent.
 */
function toOpenApiKeywords(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toOpenApiKeywords)
  if (node === null || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(node)) {
    if (key === 'storable') continue
    out[key] = toOpenApiKeywords(value)
  }
  // A parameter with a default may be left out.
  if (
    typeof out.in === 'string' &&
    (out.schema as { default?: unknown } | undefined)?.default !== undefined
  ) {
    out.required = false
  }
  const range = out.queryInteger as { minimum: number; maximum: number } | undefined
  if (range !== undefined) {
    delete out.queryInteger
    out.type = 'integer'
    out.minimum = range.minimum
    if (range.maximum < Number.MAX_SAFE_INTEGER) out.maximum = range.maximum
    if (typeof out.default === 'string') out.default = Number(out.default)
  }
  return out
}
