import type { FastifyInstance } from 'fastify'
import type { MessageQuery, MessageStore } from '../../storage/message-store.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import { MessagePageSchema, type MessagesQuery, MessagesQuerySchema } from '../schemas.js'

/** GET /messages: filters combine with AND and apply before paging. */
export async function messagesRoutes(app: FastifyInstance, deps: { store: MessageStore }) {
  app.get<{ Querystring: MessagesQuery }>(
    '/messages',
    { schema: { querystring: MessagesQuerySchema, response: { 200: MessagePageSchema } } },
    async (request) => {
      const { limit, offset, from, since, q } = request.query
      const query: MessageQuery = { limit, offset }
      // An unencoded `+` in a query string decodes to a space: `?from=+9198…` means `+9198…`.
      if (from) query.from = from.startsWith(' ') ? `+${from.slice(1)}` : from
      if (since !== undefined) query.since = since
      if (q) query.q = q
      const page = await deps.store.list(query)
      return { data: page.data, total: page.total, limit, offset }
    },
  )
  refuseOtherMethods(app, '/messages', ['GET'])
}
