import { Ajv, type ErrorObject, type SchemaObject } from 'ajv'
import type { DataValidationCxt } from 'ajv/dist/types/index.js'
import { isTimestamp } from './domain/timestamp.js'
import type { ValidationIssue } from './errors.js'

// Validation of request bodies and query strings: one Ajv with the contract's keywords, and
// its errors in FastAPI's shape. Used by the HTTP layer (route schemas) and the sources
// (bodies they check after their signature).

const INTEGER_TEXT = /^\s*[+-]?[0-9]+\s*$/

interface IntegerRange {
  minimum: number
  maximum: number
}

/**
 * `queryInteger`: a query value (always a string) that must be a plain decimal integer in
 * range; on success it is replaced by the number. Stricter than Ajv's coercion, which
 * takes `0x10` and `1e1`; FastAPI refuses both.
 */
function validateQueryInteger(
  this: unknown,
  range: IntegerRange,
  value: string,
  _schema?: unknown,
  context?: DataValidationCxt,
): boolean {
  const fail = (error: Partial<ErrorObject>) => {
    validateQueryInteger.errors = [{ keyword: 'queryInteger', ...error }]
    return false
  }
  if (!INTEGER_TEXT.test(value)) return fail({ params: { reason: 'parsing' } })
  const number = Number(value)
  if (number < range.minimum) return fail({ params: { reason: 'minimum', limit: range.minimum } })
  if (number > range.maximum) return fail({ params: { reason: 'maximum', limit: range.maximum } })
  if (context?.parentData !== undefined) {
    ;(context.parentData as Record<string | number, unknown>)[context.parentDataProperty] = number
  }
  return true
}
validateQueryInteger.errors = [] as Partial<ErrorObject>[]

// One Ajv for bodies and query strings: nothing is coerced (123 is not a message_id, and
// query integers are parsed by queryInteger).
const ajv = new Ajv({
  allErrors: true, // the 422 lists every problem, as FastAPI does
  useDefaults: true,
  strict: false,
})
ajv.addFormat('timestamp', { type: 'string', validate: isTimestamp })
ajv.addKeyword({
  keyword: 'storable',
  type: 'string',
  schemaType: 'boolean',
  validate: (wanted: boolean, value: string) => !wanted || (value.isWellFormed() && !value.includes('\0')),
})
ajv.addKeyword({
  keyword: 'queryInteger',
  type: 'string',
  schemaType: 'object',
  modifying: true,
  errors: true,
  validate: validateQueryInteger as never,
})

/** A validator for a schema (TypeBox or plain JSON Schema), compiled once. */
export function compileSchema<T = unknown>(schema: SchemaObject) {
  return ajv.compile<T>(schema)
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
    case 'queryInteger':
      switch (params.reason) {
        case 'minimum':
          return {
            msg: `Input should be greater than or equal to ${params.limit}`,
            type: 'greater_than_equal',
          }
        case 'maximum':
          return { msg: `Input should be less than or equal to ${params.limit}`, type: 'less_than_equal' }
        default:
          return {
            msg: 'Input should be a valid integer, unable to parse string as an integer',
            type: 'int_parsing',
          }
      }
    case 'storable':
      return {
        msg: 'String should be valid Unicode without NUL characters (no unpaired surrogates, no U+0000)',
        type: 'string_unicode',
      }
    default:
      return { msg: error.message ?? 'Invalid value', type: 'value_error' }
  }
}

/**
 * Ajv errors → FastAPI's `detail` items, one per field: a union (text: string | null)
 * reports once per branch, and the first branch's message is the useful one. FastAPI lists
 * problems in the order the fields are declared (`fields`); Ajv reports missing ones first.
 */
export function toValidationIssues(
  errors: readonly ErrorObject[],
  location: 'body' | 'query',
  fields: readonly string[] = [],
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
  const rank = (issue: ValidationIssue) => {
    const index = fields.indexOf(String(issue.loc[1]))
    return index === -1 ? fields.length : index
  }
  return issues.sort((a, b) => rank(a) - rank(b))
}
