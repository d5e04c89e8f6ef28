import { Ajv, type ErrorObject, type SchemaObject } from 'ajv'
import type { FastifySchemaCompiler } from 'fastify'
import { isTimestamp } from '../domain/timestamp.js'
import type { ValidationIssue } from '../errors.js'

function createAjv(options: { coerceTypes: boolean }): Ajv {
  const ajv = new Ajv({
    allErrors: true, // the 422 lists every problem, as FastAPI does
    coerceTypes: options.coerceTypes,
    useDefaults: true,
    strict: false,
  })
  ajv.addFormat('timestamp', { type: 'string', validate: isTimestamp })
  ajv.addKeyword({
    keyword: 'wellFormed',
    type: 'string',
    schemaType: 'boolean',
    validate: (wanted: boolean, value: string) => !wanted || value.isWellFormed(),
  })
  return ajv
}

// Bodies are JSON, so types are never coerced (123 is not a message_id); query values are
// always strings, so integers are coerced from them.
const bodyAjv = createAjv({ coerceTypes: false })
const queryAjv = createAjv({ coerceTypes: true })

export const validatorCompiler: FastifySchemaCompiler<SchemaObject> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema)

/** A body validator for a route that validates after its own checks (see routes/webhook.ts). */
export function compileBodyValidator<T>(schema: SchemaObject) {
  return bodyAjv.compile<T>(schema)
}

/** Pydantic v2's wording, so clients written against FastAPI read the same messages. */
function describe(error: ErrorObject): { msg: string; type: string } {
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'required':
      return { msg: 'Field required', type: 'missing' }
    case 'type':
      switch (params.type) {
        case 'object':
          return {
            msg: 'Input should be a valid dictionary or object to extract fields from',
            type: 'model_attributes_type',
          }
        case 'integer':
          return {
            msg: 'Input should be a valid integer, unable to parse string as an integer',
            type: 'int_parsing',
          }
        default:
          return { msg: 'Input should be a valid string', type: 'string_type' }
      }
    case 'minLength':
      return {
        msg: `String should have at least ${params.limit} character${params.limit === 1 ? '' : 's'}`,
        type: 'string_too_short',
      }
    case 'maxLength':
      return { msg: `String should have at most ${params.limit} characters`, type: 'string_too_long' }
    case 'pattern':
      return { msg: `String should match pattern '${params.pattern}'`, type: 'string_pattern_mismatch' }
    case 'format':
      return {
        msg: 'Input should be a UTC timestamp YYYY-MM-DDTHH:MM:SS[.fraction]Z on a real calendar date',
        type: 'datetime_from_date_parsing',
      }
    case 'minimum':
      return { msg: `Input should be greater than or equal to ${params.limit}`, type: 'greater_than_equal' }
    case 'maximum':
      return { msg: `Input should be less than or equal to ${params.limit}`, type: 'less_than_equal' }
    case 'wellFormed':
      return { msg: 'String should be valid Unicode (no unpaired surrogates)', type: 'string_unicode' }
    default:
      return { msg: error.message ?? 'Invalid value', type: 'value_error' }
  }
}

/**
 * Ajv errors → FastAPI's `detail` items, one per field: a union (text: string | null)
 * reports once per branch, and the first branch's message is the useful one.
 */
export function toValidationIssues(
  errors: readonly ErrorObject[],
  location: 'body' | 'query',
): ValidationIssue[] {
  const issues: ValidationIssue[] = []
  const seen = new Set<string>()
  for (const error of errors) {
    if (error.keyword === 'anyOf') continue
    const loc = error.instancePath
      .split('/')
      .slice(1)
      .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    if (error.keyword === 'required')
      loc.push(String((error.params as { missingProperty: string }).missingProperty))
    const key = loc.join('\0')
    if (seen.has(key)) continue
    seen.add(key)
    issues.push({ loc: [location, ...loc], ...describe(error) })
  }
  return issues
}
