import type { FastifyInstance } from 'fastify'
import type { Config } from '../../config.js'
import type { MessageStore } from '../../storage/message-store.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import { ReadinessSchema, StatusSchema } from '../schemas.js'

export async function healthRoutes(app: FastifyInstance, deps: { config: Config; store: MessageStore }) {
  // Liveness touches nothing: a slow or absent database must not get the process restarted.
  app.get('/health/live', { schema: { response: { 200: StatusSchema } } }, async () => ({ status: 'ok' }))

  app.get(
    '/health/ready',
    { schema: { response: { 200: ReadinessSchema, 503: ReadinessSchema } } },
    async (_request, reply) => {
      const store = await deps.store.health()
      const checks = { ...store, webhook_secret: deps.config.webhookSecret !== null }
      const ready = checks.database && checks.schema && checks.webhook_secret
      reply.code(ready ? 200 : 503)
      return { status: ready ? 'ok' : 'unavailable', checks }
    },
  )
  refuseOtherMethods(app, '/health/live', ['GET'])
  refuseOtherMethods(app, '/health/ready', ['GET'])
}
