import type { FastifyInstance } from 'fastify'
import type { MessageStore } from '../../storage/message-store.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import { READ_ERRORS, StatsSchema } from '../schemas.js'

export async function statsRoutes(app: FastifyInstance, deps: { store: MessageStore }) {
  const schema = {
    summary: 'Totals, the top 10 senders, the first and last message',
    tags: ['messages'],
    response: {
      200: { ...StatsSchema, description: 'The analytics of every stored message' },
      ...READ_ERRORS,
    },
  }
  app.get('/stats', { schema }, () => deps.store.stats())
  refuseOtherMethods(app, '/stats', ['GET'])
}
