import assert from 'node:assert/strict'
import { test } from 'node:test'
import { validate } from '@readme/openapi-parser'
import { conformanceOf } from './helpers/openapi-conformance.js'
import { createTestApp } from './helpers/test-app.js'

type Document = {
  openapi: string
  paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>
  components: { securitySchemes: Record<string, unknown> }
}

/** Every endpoint Inlet serves (SPEC 1 and 2), with its methods. */
const ENDPOINTS: Record<string, string[]> = {
  '/webhook': ['post'],
  '/webhooks/whatsapp': ['get', 'post'],
  '/health/live': ['get'],
  '/health/ready': ['get'],
  '/messages': ['get', 'delete'],
  '/messages/{message_id}': ['get', 'delete'],
  '/statuses': ['get'],
  '/statuses/{message_id}': ['get'],
  '/stats': ['get'],
  '/stats/timeline': ['get'],
  '/events': ['get'],
  '/events/stream': ['get'],
  '/export': ['get'],
  '/deliveries': ['get'],
  '/deliveries/{id}/retry': ['post'],
  '/metrics': ['get'],
}

test('GET /openapi.json is a valid OpenAPI 3 document of every endpoint, and nothing else', async (t) => {
  const { app } = await createTestApp(t)
  const response = await app.inject({ method: 'GET', url: '/openapi.json' })
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /^application\/json/)
  const document = response.json() as Document
  const result = await validate(structuredClone(document) as never)
  assert.deepEqual(result, { valid: true, warnings: [], specification: 'OpenAPI' })
  assert.equal(document.openapi, '3.0.3')
  const listed = Object.fromEntries(
    Object.entries(document.paths).map(([path, ops]) => [path, Object.keys(ops)]),
  )
  assert.deepEqual(listed, ENDPOINTS)
  // Every operation documents its failures too, in the contract's shapes.
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      assert.ok(operation.responses['500'], `${method} ${path} documents its 500`)
    }
  }
  assert.deepEqual(Object.keys(document.components.securitySchemes).sort(), [
    'adminToken',
    'metricsToken',
    'readToken',
  ])
})

test('the document names the tokens this deployment checks', async (t) => {
  const open = await createTestApp(t)
  const openDocument = (await open.app.inject({ method: 'GET', url: '/openapi.json' })).json() as Document
  assert.equal(openDocument.paths['/messages']?.get?.security, undefined)
  assert.equal(openDocument.paths['/messages']?.get?.responses['401'], undefined)
  assert.deepEqual(openDocument.paths['/deliveries/{id}/retry']?.post?.security, [{ adminToken: [] }])

  const guarded = await createTestApp(t, {
    env: { READ_API_TOKEN: 'read-token', METRICS_TOKEN: 'metrics-token' },
  })
  const document = (await guarded.app.inject({ method: 'GET', url: '/openapi.json' })).json() as Document
  for (const path of [
    '/messages',
    '/messages/{message_id}',
    '/stats',
    '/stats/timeline',
    '/events',
    '/export',
    '/deliveries',
  ]) {
    assert.deepEqual(document.paths[path]?.get?.security, [{ readToken: [] }], path)
    assert.ok(document.paths[path]?.get?.responses['401'], path)
  }
  assert.deepEqual(document.paths['/metrics']?.get?.security, [{ metricsToken: [] }])
  assert.equal(document.paths['/webhook']?.post?.security, undefined)
})

test('GET /docs is an interactive page whose every script and stylesheet Inlet serves itself', async (t) => {
  const { app } = await createTestApp(t)
  const page = await app.inject({ method: 'GET', url: '/docs' })
  assert.equal(page.statusCode, 200)
  assert.match(String(page.headers['content-type']), /^text\/html/)
  const assets = [...page.body.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"/g)].map(
    (m) => m[1] as string,
  )
  assert.ok(
    assets.some((src) => src.endsWith('.js')) && assets.some((href) => href.endsWith('.css')),
    'scripts and styles',
  )
  for (const asset of assets) {
    const url = new URL(asset, 'http://inlet.test/docs')
    assert.equal(url.host, 'inlet.test', `${asset} is served by Inlet, not another host`)
    const answer = await app.inject({ method: 'GET', url: url.pathname })
    assert.equal(answer.statusCode, 200, asset)
    assert.ok(answer.rawPayload.length > 0, asset)
  }
  // The page loads the document from Inlet too.
  const initializer = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' })
  const specUrl = /url: *resolveUrl\('([^']+)'\)/.exec(initializer.body)?.[1]
  assert.ok(specUrl, 'the initializer names the document it loads')
  const spec = await app.inject({ method: 'GET', url: new URL(specUrl, 'http://inlet.test/docs/').pathname })
  assert.equal(spec.statusCode, 200)
  assert.deepEqual(spec.json(), (await app.inject({ method: 'GET', url: '/openapi.json' })).json())
})

test('the suites check answers against the document, and a drifted document fails them', async (t) => {
  const { app } = await createTestApp(t)
  const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as Document
  const stats = await app.inject({ method: 'GET', url: '/stats' })
  conformanceOf(document as never)('GET', '/stats', stats)

  type Answer = { content: Record<string, { schema: { required: string[] } }> }
  const drifted = structuredClone(document) as unknown as {
    paths: Record<string, Record<string, { responses: Record<string, Answer> }>>
  }
  drifted.paths['/stats']?.get?.responses['200']?.content['application/json']?.schema.required.push(
    'average_length',
  )
  assert.throws(
    () => conformanceOf(drifted as never)('GET', '/stats', stats),
    /body does not match the document/,
  )

  const missing = await app.inject({ method: 'GET', url: '/messages/nope' })
  assert.equal(missing.statusCode, 404)
  const undocumented = structuredClone(document)
  delete undocumented.paths['/messages/{message_id}']?.get?.responses['404']
  assert.throws(
    () => conformanceOf(undocumented as never)('GET', '/messages/nope', missing),
    /a status the OpenAPI document does not list/,
  )
})
