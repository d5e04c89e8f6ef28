// The forwarder's own thread, in the idle scheduling class like the readers: attempts (an
// HTTP request each, about as costly as receiving one) only take CPU that acknowledging
// webhooks leaves, so forwarding can fall behind under a burst but never slows the ack.
import { parentPort, workerData } from 'node:worker_threads'
import { createLogger } from '../observability/logger.js'
import type { DeliveryOutcome } from '../observability/metrics.js'
import { lowerPriority } from '../threads/idle-priority.js'
import { Forwarder, type ForwarderStore } from './forwarder.js'
import type { ForwarderThreadData, FromForwarder, ToForwarder } from './thread-protocol.js'

/** Reports (log lines, counts) go to the main thread at most this often. */
const REPORT_MS = 50

lowerPriority()
const data = workerData as ForwarderThreadData
const port = parentPort as NonNullable<typeof parentPort>
const send = (message: FromForwarder) => port.postMessage(message)

let lines: string[] = []
let counts: Partial<Record<DeliveryOutcome, number>> = {}
let reportTimer: NodeJS.Timeout | undefined
function report(): void {
  reportTimer = undefined
  if (lines.length === 0 && Object.keys(counts).length === 0) return
  send({ kind: 'report', lines, counts })
  lines = []
  counts = {}
}
const soon = () => {
  reportTimer ??= setTimeout(report, REPORT_MS)
}

// The main thread writes the lines to its own log stream, in one stream with the others.
const logger = createLogger(data.logLevel, {
  write(line: string) {
    lines.push(line)
    soon()
  },
})

async function openStore(): Promise<ForwarderStore & { close(): Promise<void> }> {
  if (data.store.kind === 'sqlite') {
    const { SqliteForwardStore } = await import('../storage/sqlite/forward-store.js')
    return new SqliteForwardStore(data.store.file, data.store.busyTimeoutMs)
  }
  const { PostgresMessageStore } = await import('../storage/postgres/postgres-store.js')
  // A small pool of its own, and its own LISTEN for every replica's commits.
  return PostgresMessageStore.open({ url: data.store.url, poolMax: 4, migrate: false })
}

try {
  const store = await openStore()
  const forwarder = new Forwarder({
    store,
    config: data.config,
    logger,
    metrics: {
      countDelivery(outcome) {
        counts[outcome] = (counts[outcome] ?? 0) + 1
        soon()
      },
    },
  })
  port.on('message', (message: ToForwarder) => {
    switch (message.kind) {
      case 'wake':
        forwarder.notify()
        return
      case 'retry':
        store.retryDelivery(message.deliveryId, new Date()).then(
          (outcome) => {
            send({ kind: 'retried', id: message.id, outcome })
            forwarder.notify()
          },
          (error: unknown) =>
            send({ kind: 'retried', id: message.id, error: String((error as Error).message) }),
        )
        return
      case 'stop':
        void (async () => {
          await forwarder.stop()
          await store.close()
          clearTimeout(reportTimer)
          report()
          send({ kind: 'stopped' })
          port.close()
        })()
        return
    }
  })
  await forwarder.start()
  send({ kind: 'started' })
} catch (error) {
  send({ kind: 'start-failed', message: String((error as Error).message) })
  port.close()
}
