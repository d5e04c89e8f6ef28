import { Worker } from 'node:worker_threads'
import pino, { type Logger } from 'pino'
import type { Config, ForwardConfig } from '../config.js'
import { StorageUnavailableError } from '../errors.js'
import type { DeliveryOutcome, ForwardMetrics } from '../observability/metrics.js'
import type { InletStore } from '../storage/open-store.js'
import { threadUrl } from '../threads/thread-url.js'
import type { RetryOutcome } from './delivery-store.js'
import type { ForwarderThreadData, FromForwarder, ToForwarder } from './thread-protocol.js'

/** How soon a forwarder thread that ended by itself is started again. */
const RESTART_MS = 1000

/**
 * The main thread's side of forwarding: starts the forwarder thread (forwarder-thread.ts),
 * wakes it after each commit that added events, passes it operators' retries, and writes
 * its log lines and counts. The thread has its own connections; the main thread spends a
 * message per commit and per report on it, never an HTTP request or a delivery's SQL.
 */
export class ForwarderHost {
  private worker: Worker | undefined
  private wakeQueued = false
  private unsubscribe: (() => void) | undefined
  private stopped: Promise<void> | undefined
  private readonly retries = new Map<
    number,
    { resolve: (outcome: RetryOutcome) => void; reject: (error: Error) => void }
  >()
  private nextRetry = 1

  constructor(
    private readonly deps: {
      store: InletStore
      config: Config
      forward: ForwardConfig
      logger: Logger
      metrics: ForwardMetrics
    },
  ) {}

  async start(): Promise<void> {
    const { config, forward, store } = this.deps
    const workerData: ForwarderThreadData = {
      config: forward,
      logLevel: config.logLevel,
      store:
        config.database.kind === 'postgres'
          ? { kind: 'postgres', url: config.database.url }
          : { kind: 'sqlite', file: config.database.file, busyTimeoutMs: config.sqliteBusyTimeoutMs },
    }
    const worker = new Worker(threadUrl(import.meta.url, 'forwarder-thread'), {
      workerData,
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    })
    this.worker = worker
    const started = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: FromForwarder) => {
        if (message.kind === 'started') resolve()
        else if (message.kind === 'start-failed')
          reject(new Error(`forwarding did not start: ${message.message}`))
        else this.onMessage(message)
      })
      worker.once('error', reject)
      worker.once('exit', (code) => reject(new Error(`forwarder thread exited with ${code}`)))
    })
    worker.on('error', (error) => this.deps.logger.error({ err: error }, 'forwarder thread failed'))
    await started
    this.unsubscribe ??= store.onEvents(() => this.wake())
    // A thread that ends by itself is started again; deliveries wait in the database meanwhile.
    worker.once('exit', (code) => {
      // Retries it never answered would otherwise wait forever: they fail (503), and the
      // operator may ask again.
      for (const retry of this.retries.values()) retry.reject(new StorageUnavailableError())
      this.retries.clear()
      if (this.stopped !== undefined || this.worker !== worker) return
      this.worker = undefined
      this.deps.logger.error({ exit_code: code }, 'forwarder thread stopped; starting it again')
      setTimeout(() => {
        if (this.stopped === undefined) this.start().catch((error: unknown) => this.restartFailed(error))
      }, RESTART_MS).unref()
    })
  }

  private restartFailed(error: unknown): void {
    this.deps.logger.error({ err: error }, 'forwarder thread did not start; trying again')
    setTimeout(() => {
      if (this.stopped === undefined) this.start().catch((e: unknown) => this.restartFailed(e))
    }, RESTART_MS).unref()
  }

  /** Tells the thread to look for work (after a commit, or an operator's retry). */
  wake(): void {
    // Commits of one event-loop turn make one message.
    if (this.wakeQueued || this.worker === undefined) return
    this.wakeQueued = true
    setImmediate(() => {
      this.wakeQueued = false
      this.post({ kind: 'wake' })
    })
  }

  /** Schedules a failed delivery again (the thread owns the deliveries' writes). */
  retry(deliveryId: number): Promise<RetryOutcome> {
    if (this.worker === undefined || this.stopped !== undefined)
      return Promise.reject(new StorageUnavailableError())
    const id = this.nextRetry++
    return new Promise((resolve, reject) => {
      this.retries.set(id, { resolve, reject })
      this.post({ kind: 'retry', id, deliveryId })
    })
  }

  /** Lets the attempts in flight finish and be recorded, then ends the thread. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.unsubscribe?.()
      const worker = this.worker
      if (worker === undefined) return
      await new Promise<void>((resolve) => {
        worker.on('message', (message: FromForwarder) => {
          if (message.kind === 'stopped') resolve()
        })
        worker.once('exit', () => resolve())
        this.post({ kind: 'stop' })
      })
      await worker.terminate()
    })()
    return this.stopped
  }

  private post(message: ToForwarder): void {
    this.worker?.postMessage(message)
  }

  private onMessage(message: FromForwarder): void {
    switch (message.kind) {
      case 'retried': {
        const retry = this.retries.get(message.id)
        this.retries.delete(message.id)
        if (message.outcome !== undefined) retry?.resolve(message.outcome)
        else retry?.reject(new StorageUnavailableError({ cause: new Error(message.error) }))
        return
      }
      case 'report': {
        const stream = (this.deps.logger as unknown as Record<symbol, { write(line: string): void }>)[
          pino.symbols.streamSym
        ]
        for (const line of message.lines) stream?.write(line)
        for (const [outcome, count] of Object.entries(message.counts)) {
          this.deps.metrics.countDelivery(outcome as DeliveryOutcome, count)
        }
        return
      }
      default:
        return
    }
  }
}
