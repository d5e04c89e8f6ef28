import http from 'node:http'
import https from 'node:https'

/** Bytes of a receiver's answer read before the connection is dropped: only the status counts. */
const RESPONSE_BYTES = 4096

export interface PostAnswer {
  status: number
  retryAfter: string | null
}

export class PostTimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`)
    this.name = 'PostTimeoutError'
  }
}

/**
 * POSTs with node:http(s) on keep-alive agents: about a third of fetch's CPU per request,
 * which matters when every stored message becomes a request. Redirects are never followed
 * (node:http does not follow them). Rejects on a network error or when the whole exchange
 * takes longer than `timeoutMs`.
 */
export class Poster {
  private readonly agents: { http: http.Agent; https: https.Agent }

  constructor(maxSockets: number) {
    const options = { keepAlive: true, maxSockets, scheduling: 'lifo' as const }
    this.agents = { http: new http.Agent(options), https: new https.Agent(options) }
  }

  post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<PostAnswer> {
    const target = new URL(url)
    const secure = target.protocol === 'https:'
    return new Promise((resolve, reject) => {
      const request = (secure ? https : http).request(
        target,
        {
          method: 'POST',
          agent: secure ? this.agents.https : this.agents.http,
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        },
        (response) => {
          const answer = {
            status: response.statusCode ?? 0,
            retryAfter: (response.headers['retry-after'] as string | undefined) ?? null,
          }
          let read = 0
          response.on('data', (chunk: Buffer) => {
            read += chunk.length
            if (read > RESPONSE_BYTES) request.destroy() // the answer is known; the rest is not wanted
          })
          response.on('end', () => {
            clearTimeout(timer)
            resolve(answer)
          })
          response.on('close', () => {
            clearTimeout(timer)
            resolve(answer) // ended early (dropped above, or the receiver hung up after its status)
          })
        },
      )
      const timer = setTimeout(() => request.destroy(new PostTimeoutError(timeoutMs)), timeoutMs)
      request.on('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
      request.end(body)
    })
  }

  close(): void {
    this.agents.http.destroy()
    this.agents.https.destroy()
  }
}
