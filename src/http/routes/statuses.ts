import type { FastifyInstance } from 'fastify'
import { AppError } from '../../errors.js'
import type { MessageStore, StatusQuery } from '../../storage/message-store.js'
import { decodeCursor, encodeCursor, invalidCursor } from '../cursor.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import {
  errorAnswer,
  type MessageParams,
  MessageParamsSchema,
  QUERY_ERRORS,
  READ_ERRORS,
  StatusDetailSchema,
  type StatusesQuery,
  StatusesQuerySchema,
  StatusPageSchema,
} from '../schemas.js'

/**
 * Delivery statuses (SPEC 2.3): GET /statuses/{message_id}, the current status and its
 * history; GET /statuses, listed like /messages (in updated_at, then message_id order, with
 * a `Link` cursor).
 */
export async function statusesRoutes(app: FastifyInstance, deps: { store: MessageStore }) {
  app.get<{ Querystring: StatusesQuery }>(
    '/statuses',
    {
      schema: {
        summary: 'List delivery statuses: in updated_at then message_id order, by offset or cursor',
        tags: ['statuses'],
        querystring: StatusesQuerySchema,
        response: {
          200: {
            ...StatusPageSchema,
            description: 'One page and the total of every match',
            headers: {
              link: { type: 'string', description: 'The next page: `</statuses?…&cursor=…>; rel="next"`' },
            },
          },
          ...QUERY_ERRORS,
          ...READ_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const { limit, offset, status, recipient, since, cursor } = request.query
      const filters: { status?: StatusQuery['status']; recipient?: string; since?: string } = {}
      if (status !== undefined) filters.status = status
      // Meta's recipient_id is digits (a WhatsApp id); a leading + (or the space an
      // unencoded + decodes to) is not part of it.
      if (recipient) filters.recipient = recipient.replace(/^[+ ]/, '')
      if (since !== undefined) filters.since = since
      const scope = ['statuses', filters.status, filters.recipient, filters.since]
      const query: StatusQuery = { limit, offset, ...filters }
      if (cursor) {
        const after = decodeCursor(cursor, scope)
        if (after === null) throw invalidCursor()
        query.after = after
      }
      const page = filters.recipient?.includes('\0')
        ? { data: [], total: 0 }
        : await deps.store.listStatuses(query)
      if (page.next !== undefined) {
        const next = new URLSearchParams({
          limit: String(limit),
          ...filters,
          cursor: encodeCursor(page.next, scope),
        })
        reply.header('link', `</statuses?${next}>; rel="next"`)
      }
      return { data: page.data, total: page.total, limit, offset }
    },
  )
  refuseOtherMethods(app, '/statuses', ['GET'])

  app.get<{ Params: MessageParams }>(
    '/statuses/:message_id',
    {
      schema: {
        summary: "A message's current status and its history",
        tags: ['statuses'],
        params: MessageParamsSchema,
        response: {
          200: { ...StatusDetailSchema, description: 'The status' },
          404: errorAnswer('No status was received for this message_id'),
          ...READ_ERRORS,
        },
      },
    },
    async (request) => {
      const id = request.params.message_id
      const status = id.includes('\0') ? null : await deps.store.getStatus(id)
      if (status === null) throw new AppError('not_found', 'Not Found')
      return status
    },
  )
  refuseOtherMethods(app, '/statuses/:message_id', ['GET'])
}
