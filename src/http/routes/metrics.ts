import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../../observability/metrics.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import { textAnswer } from '../schemas.js'

export async function metricsRoutes(app: FastifyInstance, deps: { metrics: Metrics }) {
  const { registry } = deps.metrics
  const schema = {
    summary: 'Prometheus metrics',
    tags: ['operations'],
    response: { 200: textAnswer('text/plain', 'The text exposition format, version 0.0.4') },
  }
  app.get('/metrics', { schema }, async (_request, reply) => {
    reply.type(registry.contentType)
    return registry.metrics()
  })
  refuseOtherMethods(app, '/metrics', ['GET'])
}
