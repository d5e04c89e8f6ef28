import type { FastifyInstance } from 'fastify'
import type { MessageStore } from '../../storage/message-store.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import { StatsSchema } from '../schemas.js'

export async function statsRoutes(app: FastifyInstance, deps: { store: MessageStore }) {
  app.get('/stats', { schema: { response: { 200: StatsSchema } } }, () => deps.store.stats())
  refuseOtherMethods(app, '/stats', ['GET'])
}
