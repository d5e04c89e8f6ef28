/**
 * Every failure a client can see, with its status. The body is always `{"detail": …}`;
 * the code doubles as the `result` of a /webhook log line and metric.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_signature: 401,
  unauthorized: 401,
  verification_failed: 403,
  admin_disabled: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  validation_error: 422,
  internal_error: 500,
  secret_not_configured: 503,
  not_configured: 503,
  storage_unavailable: 503,
  query_timed_out: 503,
  reads_overloaded: 503,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

/** One item of a FastAPI-shaped 422 body. */
export interface ValidationIssue {
  loc: (string | number)[]
  msg: string
  type: string
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    /** The `detail` sent to the client: a message, or the list of validation issues. */
    readonly detail: string | ValidationIssue[],
    /** The code's status from the map, unless the error came with its own (a 4xx of Fastify's). */
    readonly status: number = ERROR_STATUS[code],
  ) {
    super(typeof detail === 'string' ? detail : 'validation error')
    this.name = 'AppError'
  }
}

/** Raised by a store when the database cannot be reached or refuses a write. */
export class StorageUnavailableError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('storage unavailable', options)
    this.name = 'StorageUnavailableError'
  }
}

/** Raised by a store when a read ran past its deadline (READ_TIMEOUT_MS). */
export class QueryTimeoutError extends Error {
  constructor() {
    super('query timed out')
    this.name = 'QueryTimeoutError'
  }
}

/** Raised by a store when every reader is busy and its queue of waiting reads is full. */
export class ReadsOverloadedError extends Error {
  constructor() {
    super('too many reads waiting')
    this.name = 'ReadsOverloadedError'
  }
}
