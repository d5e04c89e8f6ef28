import type { FastifyInstance, FastifyRequest } from 'fastify'

const EMPTY = Buffer.alloc(0)

/**
 * Keeps request bodies as the raw bytes received, in this encapsulated plugin only (never
 * wrapped in fastify-plugin): a signature is checked over exactly those bytes. The size cap
 * is the route's bodyLimit, enforced while the body is read.
 */
export function keepRawBody(app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
}

export function rawBody(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : EMPTY
}
