import type { FastifyInstance } from 'fastify'
import { AppError } from '../../errors.js'
import { type DeletionMetrics, eraseSender } from '../../lifecycle/deletions.js'
import type { MessageQuery, MessageStore } from '../../storage/message-store.js'
import { decodeCursor, encodeCursor, invalidCursor } from '../cursor.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import {
  type ErasureQuery,
  ErasureQuerySchema,
  ErasureSchema,
  errorAnswer,
  MessageDetailSchema,
  type MessageFilterQuery,
  MessagePageSchema,
  type MessageParams,
  MessageParamsSchema,
  type MessagesQuery,
  MessagesQuerySchema,
  QUERY_ERRORS,
  READ_ERRORS,
} from '../schemas.js'

/** An unencoded `+` in a query string decodes to a space: `?from=+9198…` means `+9198…`. */
export const msisdnParameter = (value: string) => (value.startsWith(' ') ? `+${value.slice(1)}` : value)

export type MessageFilters = Pick<MessageQuery, 'from' | 'since' | 'q'>

/** The store's filters from the query's (/messages and /export): an empty q is no filter. */
export function messageFilters(query: MessageFilterQuery): MessageFilters {
  const filters: MessageFilters = {}
  if (query.from) filters.from = msisdnParameter(query.from)
  if (query.since !== undefined) filters.since = query.since
  if (query.q) filters.q = query.q
  return filters
}

/**
 * No stored sender or text holds a NUL (the webhook refuses it), so such a filter matches
 * nothing; the databases would not take it as a parameter anyway.
 */
export const matchesNothing = (filters: MessageFilters) => `${filters.from}${filters.q}`.includes('\0')

/**
 * GET /messages: filters combine with AND and apply before paging. Besides limit/offset,
 * a `cursor` resumes after the last row of a previous page; whenever a next page exists
 * its URL is in `Link: <…>; rel="next"` (RFC 8288), with the same filters. The JSON body is
 * the contract's, unchanged. GET /messages/{message_id}: one message with everything kept.
 */
export async function messagesRoutes(app: FastifyInstance, deps: { store: MessageStore }) {
  app.get<{ Querystring: MessagesQuery }>(
    '/messages',
    {
      schema: {
        summary: 'List messages: filtered, in ts then message_id order, by offset or cursor',
        description:
          'Filters combine with AND before paging. When a next page exists, its URL is in `Link: <…>; rel="next"`.',
        tags: ['messages'],
        querystring: MessagesQuerySchema,
        response: {
          200: {
            ...MessagePageSchema,
            description: 'One page and the total of every match',
            headers: {
              link: { type: 'string', description: 'The next page: `</messages?…&cursor=…>; rel="next"`' },
            },
          },
          ...QUERY_ERRORS,
          ...READ_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const { limit, offset, cursor } = request.query
      const filters = messageFilters(request.query)
      const scope = [filters.from, filters.since, filters.q]
      const query: MessageQuery = { limit, offset, ...filters }
      if (cursor) {
        const after = decodeCursor(cursor, scope)
        if (after === null) throw invalidCursor()
        query.after = after
      }
      const page = matchesNothing(filters) ? { data: [], total: 0 } : await deps.store.list(query)
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
  refuseOtherMethods(app, '/messages', ['GET', 'DELETE'])

  app.get<{ Params: MessageParams }>(
    '/messages/:message_id',
    {
      schema: {
        summary: 'One message with everything kept about it',
        tags: ['messages'],
        params: MessageParamsSchema,
        response: {
          200: { ...MessageDetailSchema, description: 'The message' },
          404: errorAnswer('No message has this message_id'),
          ...READ_ERRORS,
        },
      },
    },
    async (request) => {
      const id = request.params.message_id
      const message = id.includes('\0') ? null : await deps.store.getMessage(id)
      if (message === null) throw new AppError('not_found', 'Not Found')
      return message
    },
  )
  refuseOtherMethods(app, '/messages/:message_id', ['GET', 'DELETE'])
}

/**
 * The admin deletions (SPEC 2.6): one message, or every message of one sender (an erasure
 * request). Each leaves a tombstone, so a provider's retry is acknowledged and not stored
 * again, and a message.deleted event per message. One log line per request, with the
 * count: never a message's content, nor the sender's number.
 */
export async function messageAdminRoutes(
  app: FastifyInstance,
  deps: { store: MessageStore; metrics: DeletionMetrics },
) {
  app.delete<{ Params: MessageParams }>(
    '/messages/:message_id',
    {
      schema: {
        summary: 'Delete one message',
        description: 'Its message_id delivered again is acknowledged (200) and not stored again.',
        tags: ['messages'],
        params: MessageParamsSchema,
        response: {
          204: { type: 'null', description: 'Deleted' },
          404: errorAnswer('No message has this message_id'),
          ...READ_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const id = request.params.message_id
      const deleted = id.includes('\0') ? 0 : await deps.store.delete({ reason: 'single', messageId: id })
      deps.metrics.countDeleted('single', deleted)
      request.log.info({ request_id: request.id, reason: 'single', deleted }, 'message deletion')
      if (deleted === 0) throw new AppError('not_found', 'Not Found')
      return reply.code(204).send()
    },
  )

  app.delete<{ Querystring: ErasureQuery }>(
    '/messages',
    {
      schema: {
        summary: "Erase one sender's messages",
        description:
          'Deletes every message whose `from` is the given number (an erasure request) and answers how many. Their message_ids delivered again are acknowledged and not stored again.',
        tags: ['messages'],
        querystring: ErasureQuerySchema,
        response: {
          200: { ...ErasureSchema, description: '`{"deleted":N}`' },
          ...QUERY_ERRORS,
          ...READ_ERRORS,
        },
      },
    },
    async (request) => {
      const from = msisdnParameter(request.query.from)
      const deleted = from.includes('\0') ? 0 : await eraseSender(deps.store, from, deps.metrics)
      request.log.info({ request_id: request.id, reason: 'erasure', deleted }, 'erasure')
      return { deleted }
    },
  )
}
