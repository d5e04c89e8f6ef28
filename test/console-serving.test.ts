import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { CONSOLE_CSP } from '../src/http/routes/console.js'
import { ensureConsoleBuilt } from './helpers/console-build.js'
import { createTestApp, metricValue, tempDir } from './helpers/test-app.js'

const root = ensureConsoleBuilt()
const [script] = readdirSync(path.join(root, 'assets')).filter((name) => name.endsWith('.js'))

test('GET /console is the built page: never cached, a strict CSP, and told which tokens this deployment asks for', async (t) => {
  const { app } = await createTestApp(t, {
    env: { READ_API_TOKEN: 'read-token', ADMIN_TOKEN: 'admin-token' },
  })
  for (const url of ['/console', '/console/', '/console/stats', '/console/messages/wamid.1%2F2?q=x']) {
    // The page holds no data: it answers without the read token, which its own requests send.
    const response = await app.inject({ method: 'GET', url })
    assert.equal(response.statusCode, 200, url)
    assert.equal(response.headers['content-type'], 'text/html; charset=utf-8')
    assert.equal(response.headers['cache-control'], 'no-cache')
    assert.equal(response.headers['content-security-policy'], CONSOLE_CSP)
    assert.equal(response.headers['x-content-type-options'], 'nosniff')
    assert.match(
      response.body,
      new RegExp(`<script type="module" crossorigin src="/console/assets/${script}">`),
    )
    assert.ok(
      response.body.includes(
        '<meta name="inlet-console" content="{&quot;readToken&quot;:true,&quot;admin&quot;:true,&quot;forwarding&quot;:false}" />',
      ),
    )
    assert.ok(
      !response.body.includes('read-token') && !response.body.includes('admin-token'),
      'no token in the page',
    )
  }
  assert.equal(
    CONSOLE_CSP,
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  )
  // No inline script or style anywhere in the page (the CSP would refuse them).
  const page = (await app.inject({ method: 'GET', url: '/console' })).body
  assert.doesNotMatch(page, /<script(?![^>]*\bsrc=)[^>]*>/)
  assert.doesNotMatch(page, /<style|style="/)
})

test('the console assets are served with a year of immutable caching, and a missing one is a 404', async (t) => {
  const { app } = await createTestApp(t)
  const before = await metricValue(app, 'http_requests_total{path="/console/assets/*",status="200"}')
  const asset = await app.inject({ method: 'GET', url: `/console/assets/${script}` })
  assert.equal(asset.statusCode, 200)
  assert.match(String(asset.headers['content-type']), /^text\/javascript|^application\/javascript/)
  assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable')
  assert.equal(asset.headers['content-security-policy'], CONSOLE_CSP)
  assert.equal(
    await metricValue(app, 'http_requests_total{path="/console/assets/*",status="200"}'),
    before + 1,
  )
  const missing = await app.inject({ method: 'GET', url: '/console/assets/nothing-here.js' })
  assert.equal(missing.statusCode, 404)
  assert.deepEqual(missing.json(), { detail: 'Not Found' })
  const post = await app.inject({ method: 'POST', url: '/console' })
  assert.equal(post.statusCode, 405)
  assert.equal(post.headers.allow, 'GET, HEAD')
})

test('without a built console GET /console answers 503 saying how to build it', async (t) => {
  const { app, logs } = await createTestApp(t, { consoleRoot: tempDir(t) })
  const response = await app.inject({ method: 'GET', url: '/console' })
  assert.equal(response.statusCode, 503)
  assert.deepEqual(response.json(), { detail: 'console not built: run npm run build' })
  assert.ok(logs().some((line) => line.level === 'warn' && String(line.msg).startsWith('console not built')))
})
