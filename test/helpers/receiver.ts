import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { Webhook } from 'standardwebhooks'

export const FORWARD_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

export interface Received {
  headers: Record<string, string>
  body: string
  at: number
  /** The body verified with the standardwebhooks package, or the verification error. */
  verified: unknown
}

/** What the receiver answers: a status (with headers), or `hang` to never answer. */
export type Answer = { status: number; headers?: Record<string, string> } | 'hang'

/**
 * A real HTTP receiver for forwarding tests: records each request, verifies its signature as
 * a receiver would (the standardwebhooks package), and answers what `answer` says.
 */
export async function startReceiver(
  t: { after(fn: () => void | Promise<void>): void },
  answer: (request: Received, index: number) => Answer | Promise<Answer> = () => ({ status: 200 }),
) {
  const received: Received[] = []
  const waiters = new Set<() => void>()
  const hanging = new Set<ServerResponse>()
  const verifier = new Webhook(FORWARD_SECRET)
  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)]))
    let verified: unknown
    try {
      verified = verifier.verify(body, headers)
    } catch (error) {
      verified = error
    }
    const entry: Received = { headers, body, at: Date.now(), verified }
    const index = received.push(entry) - 1
    for (const wake of waiters) wake()
    const reply = await answer(entry, index)
    if (reply === 'hang') {
      hanging.add(response)
      return
    }
    response.writeHead(reply.status, reply.headers ?? {})
    response.end('ok')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(async () => {
    for (const response of hanging) response.destroy()
    server.closeAllConnections()
    server.close()
  })
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    /** Resolves once `predicate` holds for what has arrived (checked at each arrival). */
    async until(predicate: (received: Received[]) => boolean, deadlineMs = 30_000): Promise<void> {
      const deadline = Date.now() + deadlineMs
      while (!predicate(received)) {
        if (Date.now() > deadline)
          throw new Error(`receiver: condition not met; got ${received.length} requests`)
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake)
            resolve()
          }
          waiters.add(wake)
          setTimeout(wake, 100)
        })
      }
    },
  }
}
