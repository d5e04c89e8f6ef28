import type { FastifyInstance } from 'fastify'
import type { MessageStore } from '../../storage/message-store.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import {
  QUERY_ERRORS,
  READ_ERRORS,
  StatsSchema,
  type TimelineQuery,
  TimelineQuerySchema,
  TimelineSchema,
} from '../schemas.js'

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

  app.get<{ Querystring: TimelineQuery }>(
    '/stats/timeline',
    {
      schema: {
        summary: 'Messages per UTC day or hour, over the buckets ending with the latest message',
        description:
          'Every bucket of the window is listed, oldest first, with 0 where none fell; `data` is empty when no message is stored. The console draws it.',
        tags: ['messages'],
        querystring: TimelineQuerySchema,
        response: {
          200: { ...TimelineSchema, description: 'The window, oldest bucket first' },
          ...QUERY_ERRORS,
          ...READ_ERRORS,
        },
      },
    },
    async (request) => {
      const { bucket, buckets } = request.query
      return { bucket, data: await deps.store.timeline(bucket, buckets) }
    },
  )
  refuseOtherMethods(app, '/stats/timeline', ['GET'])
}
