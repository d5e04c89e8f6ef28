import type { FastifyInstance } from 'fastify'
import type { Config } from '../../config.js'
import type { MessageStore } from '../../storage/message-store.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import { ReadinessSchema, StatusSchema } from '../schemas.js'

const tags = ['operations']

export async function healthRoutes(app: FastifyInstance, deps: { config: Config; store: MessageStore }) {
  // Liveness touches nothing: a slow or absent database must not get the process restarted.
  app.get(
    '/health/live',
    {
      schema: {
        summary: 'Liveness: the process serves HTTP',
        tags,
        response: { 200: { ...StatusSchema, description: '`{"status":"ok"}`' } },
      },
    },
    async () => ({ status: 'ok' }),
  )

  app.get(
    '/health/ready',
    {
      schema: {
        summary: 'Readiness: the database answers, the schema is applied, the secret is set',
        tags,
        response: {
          200: { ...ReadinessSchema, description: 'Ready' },
          503: { ...ReadinessSchema, description: 'Not ready: `checks` says what is missing' },
        },
      },
    },
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
