import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, QueryTimeoutError, ReadsOverloadedError, StorageUnavailableError } from '../errors.js'
import { toValidationIssues } from '../validation.js'

/** Seconds a client is told to wait when reads are shed (Retry-After). */
const READS_RETRY_AFTER_S = 1

/** Maps anything thrown while serving a request to the contract's error. */
function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error
  if (error instanceof StorageUnavailableError)
    return new AppError('storage_unavailable', 'storage unavailable')
  if (error instanceof QueryTimeoutError) return new AppError('query_timed_out', 'query timed out')
  if (error instanceof ReadsOverloadedError) return new AppError('reads_overloaded', 'too many reads waiting')
  const fastifyError = error as Partial<FastifyError>
  if (fastifyError.validation) {
    const location = fastifyError.validationContext === 'body' ? 'body' : 'query'
    return new AppError('validation_error', toValidationIssues(fastifyError.validation as never, location))
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'payload too large')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('bad_request', 'request body length does not match Content-Length')
  }
  // Fastify's own 4xx errors (an unsupported header value, say) keep their status code.
  const status = fastifyError.statusCode
  if (status !== undefined && status >= 400 && status < 500) {
    return new AppError('bad_request', STATUS_CODES[status] ?? 'Bad Request', status)
  }
  return new AppError('internal_error', 'Internal Server Error')
}

/**
 * The root error handler: the contract's `{"detail": …}` body, and for anything
 * unexpected a generic 500 whose cause goes to the log only.
 */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const appError = toAppError(error)
  if (appError.code === 'internal_error' || appError.code === 'storage_unavailable') {
    request.log.error(
      { request_id: request.id, err: error },
      appError.code === 'internal_error' ? 'unhandled error' : 'storage unavailable',
    )
  }
  if (appError.code === 'query_timed_out') request.log.warn({ request_id: request.id }, 'read timed out')
  // Every reader is busy and the queue is full: worth trying again in a moment.
  if (appError.code === 'reads_overloaded') reply.header('retry-after', String(READS_RETRY_AFTER_S))
  request.outcome = appError.code
  reply.code(appError.status).send({ detail: appError.detail })
}

/**
 * Requests Node's HTTP parser refuses (an unknown method, a malformed header, headers over
 * the size limit, a request that took too long) never become Fastify requests; they still
 * get the contract's body shape and one log line.
 */
export function answerClientError(logger: FastifyBaseLogger) {
  return (error: NodeJS.ErrnoException, socket: Duplex): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    const status =
      error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
    const reason = STATUS_CODES[status] ?? 'Bad Request'
    const body = JSON.stringify({ detail: reason })
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      )
    }
    socket.destroy()
    logger.info({ status, code: error.code }, 'malformed request refused')
  }
}
