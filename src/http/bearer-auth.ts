import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { AppError } from '../errors.js'

const digest = (value: string) => createHash('sha256').update(value).digest()

/**
 * An onRequest hook that lets a request through only with `Authorization: Bearer <token>`.
 * Both tokens are hashed before the constant-time comparison, so neither the length nor
 * the content of the expected token shows in the response time.
 */
export function requireBearer(token: string) {
  const expected = digest(token)
  return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const header = request.headers.authorization
    // The scheme is case-insensitive (RFC 9110); the token is not.
    const given = typeof header === 'string' ? /^bearer +(\S+) *$/i.exec(header)?.[1] : undefined
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      reply.header('www-authenticate', 'Bearer')
      done(new AppError('unauthorized', 'unauthorized'))
      return
    }
    done()
  }
}

/**
 * The admin endpoints' hook (SPEC 2.1): 403 while ADMIN_TOKEN is unset, so an operator sees
 * the API is off rather than a token being wrong; else the token as requireBearer checks it.
 */
export function requireAdmin(token: string | null) {
  if (token === null) {
    return (_request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void =>
      done(new AppError('admin_disabled', 'admin API disabled'))
  }
  return requireBearer(token)
}
