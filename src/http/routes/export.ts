import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { exportPage, MEDIA_TYPES } from '../../export/formats.js'
import type { Metrics } from '../../observability/metrics.js'
import type { MessageQuery, MessageStore } from '../../storage/message-store.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import { type ExportQuery, ExportQuerySchema, QUERY_ERRORS, READ_ERRORS } from '../schemas.js'
import { matchesNothing, messageFilters } from './messages.js'

/**
 * Messages one read of the store brings: at typical sizes their text stays under 100 KB,
 * above which V8 deserializes a thread's message straight into the old generation (where
 * its garbage waits for a full collection).
 */
const PAGE_ROWS = 400

const schema = {
  summary: "Every message matching /messages' filters, streamed as NDJSON or CSV",
  description:
    'In the contract order (ts, then message_id). Read page by page while the client takes it, so memory stays flat whatever the size. NDJSON lines are the items of GET /messages; CSV has the header `message_id,from,to,ts,text`, RFC 4180 quoting and formula cells (starting with = + - @, tab or CR) prefixed with an apostrophe.',
  tags: ['messages'],
  querystring: ExportQuerySchema,
  response: {
    200: {
      description: 'NDJSON (format=ndjson) or CSV (format=csv), as an attachment',
      content: {
        'application/x-ndjson': { schema: { type: 'string' } },
        'text/csv': { schema: { type: 'string' } },
      },
      headers: {
        'content-disposition': {
          type: 'string',
          description: 'attachment; filename="inlet-messages-<UTC time>.<format>"',
        },
      },
    },
    ...QUERY_ERRORS,
    ...READ_ERRORS,
  },
}

/**
 * GET /export (SPEC 2.5). The first page is read before anything is sent, so a store that
 * cannot answer is still a clean 503; later pages are read only as the client takes the
 * previous ones (the stream's buffer holds about one page), and a client that leaves ends
 * the reading. A store failure mid-way aborts the response, so a client never mistakes a
 * cut export for a whole one.
 */
export async function exportRoutes(app: FastifyInstance, deps: { store: MessageStore; metrics: Metrics }) {
  const { store, metrics } = deps
  app.get<{ Querystring: ExportQuery }>('/export', { schema }, async (request, reply) => {
    const format = request.query.format
    const filters = messageFilters(request.query)
    const query: MessageQuery = { limit: PAGE_ROWS, offset: 0, countTotal: false, ...filters }
    const first = matchesNothing(filters)
      ? exportPage(format, { data: [], total: 0 }, true)
      : await store.exportPage(query, format, true)

    async function* chunks() {
      metrics.exports.active.inc()
      try {
        for (let page = first; ; ) {
          metrics.exports.countRows(format, page.rows)
          yield page.text
          if (page.next === undefined) return
          page = await store.exportPage({ ...query, after: page.next }, format, false)
        }
      } catch (error) {
        request.log.error({ err: error, request_id: request.id }, 'export aborted')
        throw error
      } finally {
        metrics.exports.active.dec()
      }
    }

    const stamp = new Date().toISOString().replace(/[-:]|\.\d+/g, '')
    reply
      .type(MEDIA_TYPES[format])
      .header('content-disposition', `attachment; filename="inlet-messages-${stamp}.${format}"`)
    // One page waits in the stream at most: the next is read once the socket took it.
    return reply.send(Readable.from(chunks(), { objectMode: true, highWaterMark: 1 }))
  })
  refuseOtherMethods(app, '/export', ['GET'])
}
