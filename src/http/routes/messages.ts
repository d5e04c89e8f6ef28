import type { FastifyInstance } from 'fastify'
import { AppError } from '../../errors.js'
import type { MessageQuery, MessageStore } from '../../storage/message-store.js'
import { type CursorFilters, decodeCursor, encodeCursor } from '../cursor.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import { MessagePageSchema, type MessagesQuery, MessagesQuerySchema } from '../schemas.js'

/**
 * GET /messages: filters combine with AND and apply before paging. Besides limit/offset,
 * a `cursor` resumes after the last row of a previous page; whenever a next page exists
 * its URL is in `Link: <…>; rel="next"` (RFC 8288), with the same filters. The JSON body is
 * the contract's, unchanged.
 */
export async function messagesRoutes(app: FastifyInstance, deps: { store: MessageStore }) {
  app.get<{ Querystring: MessagesQuery }>(
    '/messages',
    { schema: { querystring: MessagesQuerySchema, response: { 200: MessagePageSchema } } },
    async (request, reply) => {
      const { limit, offset, from, since, q, cursor } = request.query
      const filters: CursorFilters = {}
      // An unencoded `+` in a query string decodes to a space: `?from=+9198…` means `+9198…`.
      if (from) filters.from = from.startsWith(' ') ? `+${from.slice(1)}` : from
      if (since !== undefined) filters.since = since
      if (q) filters.q = q
      const query: MessageQuery = { limit, offset, ...filters }
      if (cursor) {
        const after = decodeCursor(cursor, filters)
        if (after === null) {
          throw new AppError('validation_error', [
            {
              loc: ['query', 'cursor'],
              msg: 'Cursor is malformed or was made for other filters',
              type: 'value_error',
            },
          ])
        }
        query.after = after
      }
      // No stored sender or text holds a NUL (the webhook refuses it), so such a filter
      // matches nothing; the databases would not take it as a parameter anyway.
      const page = `${filters.from}${filters.q}`.includes('\0')
        ? { data: [], total: 0 }
        : await deps.store.list(query)
      if (page.next !== undefined) {
        const next = new URLSearchParams({
          limit: String(limit),
          ...filters,
          cursor: encodeCursor(page.next, filters),
        })
        reply.header('link', `</messages?${next}>; rel="next"`)
      }
      return { data: page.data, total: page.total, limit, offset }
    },
  )
  refuseOtherMethods(app, '/messages', ['GET'])
}
