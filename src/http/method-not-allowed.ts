import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.js'

/**
 * Fastify answers an unrouted method with 404; the contract wants 405 (with Allow) for
 * a known path, so every other method of the path is routed to this answer.
 */
export function refuseOtherMethods(app: FastifyInstance, url: string, allowed: readonly string[]): void {
  const allow = allowed.includes('GET') ? [...allowed, 'HEAD'] : [...allowed]
  app.route({
    method: app.supportedMethods.filter((method) => !allow.includes(method)),
    url,
    schema: { hide: true },
    handler: async (_request, reply) => {
      reply.header('allow', allow.join(', '))
      throw new AppError('method_not_allowed', 'Method Not Allowed')
    },
  })
}
