import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../../observability/metrics.js'
import { refuseOtherMethods } from '../method-not-allowed.js'

export async function metricsRoutes(app: FastifyInstance, deps: { metrics: Metrics }) {
  const { registry } = deps.metrics
  app.get('/metrics', async (_request, reply) => {
    reply.type(registry.contentType)
    return registry.metrics()
  })
  refuseOtherMethods(app, '/metrics', ['GET'])
}
