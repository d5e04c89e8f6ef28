import assert from 'node:assert/strict'
import { Ajv, type ValidateFunction } from 'ajv'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'

type Operation = { responses: Record<string, { content?: Record<string, { schema?: object }> }> }
type Document = { paths: Record<string, Record<string, Operation>> }

// OpenAPI 3.0 schemas are JSON Schema with `nullable`, which Ajv knows; the document's
// formats (`timestamp`) are the server's own, checked by its validator, not here.
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false })

/**
 * Checks every answer against the app's own OpenAPI document: a documented route must
 * answer a documented status, with a documented media type, and a JSON body its schema
 * accepts. Unrouted paths, unrouted methods (405) and HEAD are not in the document.
 */
export function conformanceOf(document: Document) {
  // Literal paths before templated ones: /statuses before /statuses/{message_id}.
  const routes = Object.entries(document.paths)
    .map(([template, operations]) => ({
      template,
      operations,
      pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    }))
    .sort((a, b) => a.template.split('{').length - b.template.split('{').length)
  const compiled = new Map<object, ValidateFunction>()

  return (method: string, url: string, response: LightMyRequestResponse): void => {
    // Not new URL(): a path such as `//x` would be read as a host.
    const path = url.split('?', 1)[0] as string
    const route = routes.find((candidate) => candidate.pattern.test(path))
    const operation = route?.operations[method.toLowerCase()]
    if (route === undefined || operation === undefined) return
    const where = `${method} ${route.template} → ${response.statusCode}`
    const answer = operation.responses[String(response.statusCode)]
    assert.ok(answer, `${where}: a status the OpenAPI document does not list`)
    const mediaType = String(response.headers['content-type'] ?? '').split(';')[0] as string
    if (answer.content === undefined) {
      assert.equal(response.body, '', `${where}: a body the document does not describe`)
      return
    }
    const media = answer.content[mediaType]
    assert.ok(media, `${where}: media type ${mediaType || '(none)'} is not documented`)
    if (mediaType !== 'application/json' || media.schema === undefined) return
    let validate = compiled.get(media.schema)
    if (validate === undefined) {
      validate = ajv.compile(media.schema)
      compiled.set(media.schema, validate)
    }
    const body: unknown = response.json()
    assert.ok(
      validate(body),
      `${where}: body does not match the document: ${ajv.errorsText(validate.errors)}`,
    )
  }
}

/**
 * Makes `app.inject` check every answer against the app's document (the HTTP suites use it
 * through createTestApp, so the document cannot drift from what Inlet answers).
 */
export function checkAnswersAgainstDocument(app: FastifyInstance): void {
  const check = conformanceOf(app.swagger() as unknown as Document)
  const inject = app.inject.bind(app) as (options: InjectOptions | string) => Promise<LightMyRequestResponse>
  const checked = async (options: InjectOptions | string) => {
    const response = await inject(options)
    const { method = 'GET', url = '/' } = typeof options === 'string' ? { url: options } : options
    check(method, typeof url === 'string' ? url : (url.pathname ?? '/'), response)
    return response
  }
  app.inject = checked as typeof app.inject
}
