import type { FastifyInstance } from 'fastify'
import { AppError } from '../../errors.js'
import type { DeliveryReads, RetryOutcome } from '../../forwarding/delivery-store.js'
import { refuseOtherMethods } from '../method-not-allowed.js'
import {
  AcceptedSchema,
  type DeliveriesQuery,
  DeliveriesQuerySchema,
  DeliveryPageSchema,
  type DeliveryParams,
  DeliveryParamsSchema,
  errorAnswer,
  QUERY_ERRORS,
  READ_ERRORS,
} from '../schemas.js'

/** GET /deliveries (SPEC 2.4): newest first; `next` is the cursor of the following page. */
export async function deliveriesRoutes(app: FastifyInstance, deps: { store: DeliveryReads }) {
  app.get<{ Querystring: DeliveriesQuery }>(
    '/deliveries',
    {
      schema: {
        summary: 'Forwarding deliveries, newest first',
        tags: ['forwarding'],
        querystring: DeliveriesQuerySchema,
        response: {
          200: {
            ...DeliveryPageSchema,
            description: 'One page; `next` is the cursor of the following one, or null',
          },
          ...QUERY_ERRORS,
          ...READ_ERRORS,
        },
      },
    },
    async (request) => {
      const { status, limit, cursor } = request.query
      let before: number | undefined
      if (cursor !== undefined && cursor !== '') {
        if (!/^[0-9]{1,15}$/.test(cursor)) {
          throw new AppError('validation_error', [
            { loc: ['query', 'cursor'], msg: 'Cursor is malformed', type: 'value_error' },
          ])
        }
        before = Number(cursor)
      }
      const rows = await deps.store.listDeliveries({
        limit: limit + 1,
        ...(status === undefined ? {} : { status }),
        ...(before === undefined ? {} : { before }),
      })
      const more = rows.length > limit
      if (more) rows.length = limit
      return { data: rows, next: more ? String(rows.at(-1)?.id) : null }
    },
  )
  refuseOtherMethods(app, '/deliveries', ['GET'])
}

/**
 * POST /deliveries/{id}/retry (admin): a failed delivery is attempted again at once. The
 * forwarder makes every write to deliveries, so without FORWARD_URL there is none to retry.
 */
export async function deliveryAdminRoutes(
  app: FastifyInstance,
  deps: { retry: ((id: number) => Promise<RetryOutcome>) | null },
) {
  app.post<{ Params: DeliveryParams }>(
    '/deliveries/:id/retry',
    {
      schema: {
        summary: 'Attempt a failed delivery again at once',
        tags: ['forwarding'],
        params: DeliveryParamsSchema,
        response: {
          202: { ...AcceptedSchema, description: 'Scheduled: `{"status":"scheduled","id":…}`' },
          404: errorAnswer('No delivery has this id'),
          409: errorAnswer('The delivery has not failed, or forwarding is off (FORWARD_URL is not set)'),
          ...QUERY_ERRORS,
          ...READ_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const id = Number(request.params.id)
      if (deps.retry === null) throw new AppError('conflict', 'forwarding is off (FORWARD_URL is not set)')
      const outcome = await deps.retry(id)
      if (outcome === 'not_found') throw new AppError('not_found', 'delivery not found')
      if (outcome === 'not_failed') throw new AppError('conflict', 'only a failed delivery can be retried')
      return reply.code(202).send({ status: 'scheduled', id })
    },
  )
  refuseOtherMethods(app, '/deliveries/:id/retry', ['POST'])
}
