import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { AppError } from '../../errors.js'
import { refuseOtherMethods } from '../method-not-allowed.js'

/** Where `npm run build` puts the console (console/dist), from src/ and from dist/ alike. */
export const CONSOLE_BUILD = fileURLToPath(new URL('../../../console/dist/', import.meta.url))

/**
 * Everything the console needs comes from this origin; nothing runs inline, nothing may
 * frame it. (`data:` images: the page's empty favicon, so the browser asks for none.)
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** What the page is told about this deployment (never a token): which prompts and views to show. */
export interface ConsoleFeatures {
  readToken: boolean
  admin: boolean
  forwarding: boolean
}

const PLACEHOLDER = '<meta name="inlet-console" content="{}" />'

function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function secure(reply: FastifyReply | { setHeader(name: string, value: string): unknown }) {
  const set = 'header' in reply ? reply.header.bind(reply) : reply.setHeader.bind(reply)
  set('content-security-policy', CONSOLE_CSP)
  set('x-content-type-options', 'nosniff')
  set('referrer-policy', 'no-referrer')
}

/**
 * GET /console (SPEC 2.7): the browser app built by Vite. Its hashed assets are cached for
 * a year; the page itself never (it names the current assets). Every path under /console
 * that is not an asset is the page, so a shared link to a view opens that view.
 */
export async function consoleRoutes(app: FastifyInstance, deps: { root: string; features: ConsoleFeatures }) {
  let page: string | null = null
  try {
    page = readFileSync(path.join(deps.root, 'index.html'), 'utf8').replace(
      PLACEHOLDER,
      `<meta name="inlet-console" content="${escapeAttribute(JSON.stringify(deps.features))}" />`,
    )
  } catch {
    app.log.warn({ root: deps.root }, 'console not built: GET /console answers 503 until `npm run build`')
  }

  if (page !== null) {
    await app.register(fastifyStatic, {
      root: path.join(deps.root, 'assets'),
      prefix: '/console/assets/',
      decorateReply: false,
      index: false,
      list: false,
      immutable: true,
      maxAge: '365d',
      setHeaders: (response) => secure(response),
    })
  }

  const serve = async (_request: unknown, reply: FastifyReply) => {
    if (page === null) throw new AppError('not_configured', 'console not built: run npm run build')
    secure(reply)
    return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(page)
  }
  for (const url of ['/console', '/console/*']) {
    app.get(url, { schema: { hide: true } }, serve)
    refuseOtherMethods(app, url, ['GET'])
  }
}
