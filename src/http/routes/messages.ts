import type { FastifyInstance } from 'fastify'
import { AppError } from '../../errors.js'
import type { MessageQuery, MessageStore } from '../../storage/message-store.js'
import { decodeCursor, encodeCursor, invalidCursor } from '../cursor.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import {
  MessageDetailSchema,
  MessagePageSchema,
  type MessageParams,
  MessageParamsSchema,
  type MessagesQuery,
  MessagesQuerySchema,
} from '../schemas.js'

/** An unencoded `+` in a query string decodes to a space: `?from=+9198…` means `+9198…`. */
export const msisdnParameter = (value: string) => (value.startsWith(' ') ? `+${value.slice(1)}` : value)

/**
 * GET /messages: filters combine with AND and apply before paging. Besides limit/offset,
 * a `cursor` resumes after the last row of a previous page; whenever a next page exists
 * its URL is in `Link: <…>; rel="next"` (RFC 8288), with the same filters. The JSON body is
 * the contract's, unchanged. GET /messages/{message_id}: one message with everything kept.
 */
export async function messagesRoutes(app: FastifyInstance, deps: { store: MessageStore }) {
  app.get<{ Querystring: MessagesQuery }>(
    '/messages',
    { schema: { querystring: MessagesQuerySchema, response: { 200: MessagePageSchema } } },
    async (request, reply) => {
      const { limit, offset, from, since, q, cursor } = request.query
      const filters: { from?: string; since?: string; q?: string } = {}
      if (from) filters.from = msisdnParameter(from)
      if (since !== undefined) filters.since = since
      if (q) filters.q = q
      const scope = [filters.from, filters.since, filters.q]
      const query: MessageQuery = { limit, offset, ...filters }
      if (cursor) {
        const after = decodeCursor(cursor, scope)
        if (after === null) throw invalidCursor()
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
          cursor: encodeCursor(page.next, scope),
        })
        reply.header('link', `</messages?${next}>; rel="next"`)
      }
      return { data: page.data, total: page.total, limit, offset }
    },
  )
  refuseOtherMethods(app, '/messages', ['GET'])

  app.get<{ Params: MessageParams }>(
    '/messages/:message_id',
    { schema: { params: MessageParamsSchema, response: { 200: MessageDetailSchema } } },
    async (request) => {
      const id = request.params.message_id
      const message = id.includes('\0') ? null : await deps.store.getMessage(id)
      if (message === null) throw new AppError('not_found', 'Not Found')
      return message
    },
  )
  refuseOtherMethods(app, '/messages/:message_id', ['GET'])
}
