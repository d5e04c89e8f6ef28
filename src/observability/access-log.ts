import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'
import type { Metrics } from './metrics.js'

function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

/**
 * Fastify calls `requestCompleted` once per response, for every request it forms, even
 * those refused before routing (an undecodable URL), so this is where the one access
 * line and the request metrics are written. Fastify's own per-request lines are off.
 */
export class AccessLog extends LogController {
  constructor(private readonly metrics: Metrics) {
    super({ disableRequestLogging: true })
  }

  override incomingRequest(): void {}
  override routeNotFound(): void {}
  override defaultErrorLog(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const status = reply.statusCode
    // Requests refused before routing have no start time.
    const latencyMs = Number.isFinite(reply.elapsedTime) ? reply.elapsedTime : 0
    const metrics = this.metrics
    // The route template, never the raw URL: a label per URL would be a memory leak.
    metrics.countRequest(request.routeOptions.url ?? 'unmatched', status)
    metrics.requestLatency.observe(latencyMs)

    const path = pathOf(request.url)
    const line: Record<string, unknown> = {
      request_id: request.id,
      method: request.method,
      path,
      status,
      latency_ms: Math.round(latencyMs * 1000) / 1000,
    }
    let level: 'info' | 'error' = status >= 500 || error ? 'error' : 'info'
    // Every answer the app writes records its outcome; none means Fastify answered itself.
    if (path === '/webhook') {
      const result = request.outcome ?? 'internal_error'
      line.dup = result === 'duplicate'
      line.result = result
      if (request.messageId !== undefined) line.message_id = request.messageId
      metrics.countWebhook(result)
      if (result === 'invalid_signature') level = 'error'
    } else if (path === '/webhooks/whatsapp') {
      const result = request.outcome ?? 'internal_error'
      line.result = result
      if (request.itemCounts !== undefined) Object.assign(line, request.itemCounts)
      metrics.countWhatsApp(result)
      if (result === 'invalid_signature') level = 'error'
    }
    if (error) line.err = error
    request.log[level](line, 'request completed')
  }
}
