import { fastifySSE } from '@fastify/sse'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import { AppError } from './errors.js'
import { ForwarderHost } from './forwarding/forwarder-host.js'
import { requireAdmin, requireBearer } from './http/bearer-auth.js'
import { answerClientError, handleError } from './http/errors.js'
import { ADMIN_DISABLED, documentSecurity, registerOpenApi, UNAUTHORIZED } from './http/openapi.js'
import { requestIdFor } from './http/request-id.js'
import { contractSerializer } from './http/response-serializer.js'
import { CONSOLE_BUILD, consoleRoutes } from './http/routes/console.js'
import { deliveriesRoutes, deliveryAdminRoutes } from './http/routes/deliveries.js'
import { eventsRoutes } from './http/routes/events.js'
import { exportRoutes } from './http/routes/export.js'
import { healthRoutes } from './http/routes/health.js'
import { messageAdminRoutes, messagesRoutes } from './http/routes/messages.js'
import { metricsRoutes } from './http/routes/metrics.js'
import { statsRoutes } from './http/routes/stats.js'
import { statusesRoutes } from './http/routes/statuses.js'
import { webhookRoutes } from './http/routes/webhook.js'
import { whatsappRoutes } from './http/routes/whatsapp.js'
import { RetentionJob } from './lifecycle/deletions.js'
import { AccessLog } from './observability/access-log.js'
import { createMetrics, type Outcome } from './observability/metrics.js'
import type { InletStore } from './storage/open-store.js'
import { compileSchema } from './validation.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** What happened to the request, for the access line and the webhook metric. */
    outcome: Outcome | null
    /** The message_id of a parsed webhook body (valid or not), for the access line. */
    messageId: string | number | undefined
    /** How many messages and statuses a provider's request carried, for the access line. */
    itemCounts: { messages: number; statuses: number } | undefined
  }
}

export interface AppDeps {
  config: Config
  store: InletStore
  logger: Logger
  /** The built console (tests point elsewhere); default: where `npm run build` writes it. */
  consoleRoot?: string
}

const documentedOnly = () => true

/** Repeated parameters keep the last value, as Starlette does; `+` decodes to a space. */
function parseQueryString(query: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(query))
}

/**
 * A ready Fastify instance; does no I/O until it is ready (then, with FORWARD_URL, the
 * forwarder starts, and it stops when the app closes). The caller owns the store and listening.
 */
export function buildApp(deps: AppDeps): FastifyInstance {
  const { config, store, logger } = deps
  const metrics = createMetrics()
  const accessLog = new AccessLog(metrics)
  const app = Fastify({
    loggerInstance: logger,
    logController: accessLog,
    genReqId: requestIdFor,
    // No per-request child logger (creating one costs about as much as writing a line);
    // the few request-scoped lines name their request_id themselves.
    childLoggerFactory: (parent) => parent,
    bodyLimit: config.maxBodyBytes,
    // Slow clients (slow-loris) are cut off: headers and the whole request must arrive in
    // time, checked often enough for the limits to mean what they say.
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: {
      headersTimeout: config.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, Math.ceil(config.headersTimeoutMs / 4)),
    },
    routerOptions: { querystringParser: parseQueryString },
    schemaController: { compilersFactory: { buildSerializer: contractSerializer } },
    clientErrorHandler: answerClientError(logger),
    // A URL that cannot be decoded never reaches a route, nor Fastify's response hooks.
    frameworkErrors: (error, request, reply) => {
      reply.raw.once('finish', () => accessLog.requestCompleted(null, request, reply as never))
      reply.header('x-request-id', request.id)
      handleError(error, request, reply as never)
    },
  }) as unknown as FastifyInstance

  // No route takes a parsed body or checks headers by schema: the signed sources check the
  // raw bytes and their headers themselves, in the contract's order (a bad signature is 401
  // before anything else). Their body and header schemas are there for the document.
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' || httpPart === 'headers' ? documentedOnly : compileSchema(schema),
  )
  app.decorateRequest('outcome', null)
  app.decorateRequest('messageId', undefined)
  app.decorateRequest('itemCounts', undefined)
  // Bodies are read (so the size cap holds everywhere) but only /webhook keeps them.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined))

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })

  app.setErrorHandler(handleError)
  app.setNotFoundHandler(() => {
    throw new AppError('not_found', 'Not Found')
  })

  const forwarder =
    config.forward === null
      ? null
      : new ForwarderHost({ store, config, forward: config.forward, logger, metrics: metrics.forward })
  if (forwarder !== null && config.forward !== null) {
    const urls = [...config.forward.urls]
    metrics.forward.watchBacklog(() => store.deliveryBacklog(urls))
    app.addHook('onReady', () => forwarder.start())
    app.addHook('onClose', () => forwarder.stop())
  }

  const retention = new RetentionJob(store, config.lifecycle, metrics, logger)
  app.addHook('onReady', () => retention.start())
  app.addHook('onClose', () => retention.stop())

  // First: the document is built from the routes registered after it.
  registerOpenApi(app)
  app.register(fastifySSE, { heartbeatInterval: config.eventsHeartbeatMs })
  app.register(webhookRoutes, { config, store })
  app.register(whatsappRoutes, { config, store, metrics, logger })
  app.register(healthRoutes, { config, store })
  // The page and its assets hold no data (and no token): open to all, like /docs. Its reads
  // go through the routes below, with the token the page asks for.
  app.register(consoleRoutes, {
    root: deps.consoleRoot ?? CONSOLE_BUILD,
    features: {
      readToken: config.readApiToken !== null,
      admin: config.adminToken !== null,
      forwarding: config.forward !== null,
    },
  })
  // Everything that reads stored messages sits behind READ_API_TOKEN when it is set.
  app.register(async (reads) => {
    if (config.readApiToken !== null) {
      reads.addHook('onRequest', requireBearer(config.readApiToken))
      reads.addHook('onRoute', documentSecurity('readToken', UNAUTHORIZED))
    }
    reads.register(messagesRoutes, { store })
    reads.register(statusesRoutes, { store })
    reads.register(statsRoutes, { store })
    reads.register(exportRoutes, { store, metrics })
    reads.register(eventsRoutes, { store, metrics })
    reads.register(deliveriesRoutes, { store })
  })
  app.register(async (admin) => {
    admin.addHook('onRequest', requireAdmin(config.adminToken))
    admin.addHook('onRoute', documentSecurity('adminToken', { ...UNAUTHORIZED, ...ADMIN_DISABLED }))
    admin.register(deliveryAdminRoutes, { retry: forwarder === null ? null : (id) => forwarder.retry(id) })
    admin.register(messageAdminRoutes, { store, metrics })
  })
  app.register(async (scrape) => {
    if (config.metricsToken !== null) {
      scrape.addHook('onRequest', requireBearer(config.metricsToken))
      scrape.addHook('onRoute', documentSecurity('metricsToken', UNAUTHORIZED))
    }
    scrape.register(metricsRoutes, { metrics })
  })
  return app
}
