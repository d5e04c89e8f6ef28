import { once } from 'node:events'
import { createServer } from 'node:http'

// The two consumers bench:mixed attaches to Inlet: a forwarding receiver (answers 204) and
// one client of GET /events/stream. Each records when each message's event reached it.

/** A local receiver of forwarded events: message_id → when it first arrived (performance.now()). */
export async function startForwardReceiver() {
  const arrivals = new Map<string, number>()
  let requests = 0
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      requests += 1
      const at = performance.now()
      try {
        const id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { message_id: string } })
          .data.message_id
        if (!arrivals.has(id)) arrivals.set(id, at)
      } catch {
        // Not an event: counted, not timed.
      }
      response.writeHead(204).end()
    })
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}/events`,
    arrivals,
    requests: () => requests,
    close: () => {
      server.closeAllConnections()
      server.close()
    },
  }
}

/** One SSE client of /events/stream from the beginning: message_id → when its event arrived. */
export function followStream(port: number) {
  const arrivals = new Map<string, number>()
  const controller = new AbortController()
  const done = (async () => {
    const response = await fetch(`http://127.0.0.1:${port}/events/stream`, { signal: controller.signal })
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    for (;;) {
      const chunk = await reader.read()
      if (chunk.done) return
      buffer += decoder.decode(chunk.value, { stream: true })
      let end = buffer.indexOf('\n\n')
      while (end !== -1) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = block.split('\n').find((line) => line.startsWith('data: '))
        if (data !== undefined) {
          const id = (JSON.parse(data.slice(6)) as { data: { message_id: string } }).data.message_id
          if (!arrivals.has(id)) arrivals.set(id, performance.now())
        }
        end = buffer.indexOf('\n\n')
      }
    }
  })().catch(() => {})
  return {
    arrivals,
    close: async () => {
      controller.abort()
      await done
    },
  }
}
