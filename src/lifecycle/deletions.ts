import { setTimeout as sleep } from 'node:timers/promises'
import type { LifecycleConfig } from '../config.js'
import { timestampSortKey } from '../domain/timestamp.js'
import type { DeletionReason, MessageStore } from '../storage/message-store.js'

// Deleting messages (SPEC 2.6): an erasure of one sender's messages, and the background job
// that applies RETENTION_DAYS and forgets old tombstones. Both delete in chunks, each its
// own transaction through the store's writer, so webhooks commit between two chunks: a
// batch of webhooks waits for one chunk at most, never for the whole deletion.

const DAY_MS = 86_400_000
/** An erasure's messages per transaction: about 5 ms of the writer's time on a million-row database. */
export const ERASURE_CHUNK_ROWS = 200

export interface DeletionLog {
  info(fields: Record<string, unknown>, message: string): void
  error(fields: Record<string, unknown>, message: string): void
}

export interface DeletionMetrics {
  countDeleted(reason: DeletionReason, count: number): void
}

/**
 * Deletes every message of one sender, chunk after chunk, until none is left (messages
 * that arrive meanwhile go too). A crash part-way leaves exact counts with part of them
 * gone; asking again finishes the erasure. Returns how many it deleted.
 */
export async function eraseSender(
  store: MessageStore,
  from: string,
  metrics: DeletionMetrics,
): Promise<number> {
  let deleted = 0
  for (;;) {
    const chunk = await store.delete({ reason: 'erasure', from, limit: ERASURE_CHUNK_ROWS })
    metrics.countDeleted('erasure', chunk)
    deleted += chunk
    if (chunk < ERASURE_CHUNK_ROWS) return deleted
  }
}

/**
 * Every `intervalMs` (and once at start): deletes the messages whose ts is more than
 * RETENTION_DAYS before now (when set), oldest first in chunks of `chunkRows` with a pause
 * between (`pauseMs`, or three times the chunk's own time if longer), and forgets
 * tombstones older than TOMBSTONE_DAYS. One run at a time; a run that
 * fails (the database away) is logged and the next one starts over from the oldest.
 */
export class RetentionJob {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private stopped = false

  constructor(
    private readonly store: MessageStore,
    private readonly config: LifecycleConfig,
    private readonly metrics: DeletionMetrics,
    private readonly log: DeletionLog,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  start(): void {
    this.stopped = false
    this.schedule(0)
  }

  /** Stops the timer and waits for the chunk in progress (the rest waits for the next start). */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.running
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .then(() => undefined)
        .catch((error: unknown) =>
          this.log.error({ err: error }, 'retention run failed; retried at the next one'),
        )
        .finally(() => {
          this.running = undefined
          this.schedule(this.config.intervalMs)
        })
    }, delayMs)
    this.timer.unref()
  }

  /** One run; returns the messages and tombstones it deleted. */
  async runOnce(): Promise<{ messages: number; tombstones: number }> {
    const now = this.clock().getTime()
    const tombstones = await this.store.pruneTombstones(new Date(now - this.config.tombstoneDays * DAY_MS))
    let messages = 0
    const started = performance.now()
    const days = this.config.retentionDays
    const cutoff = days === null ? null : new Date(now - days * DAY_MS).toISOString()
    if (cutoff !== null) {
      const beforeKey = timestampSortKey(cutoff) as string
      while (!this.stopped) {
        const chunkStarted = performance.now()
        const chunk = await this.store.delete({
          reason: 'retention',
          beforeKey,
          limit: this.config.chunkRows,
        })
        this.metrics.countDeleted('retention', chunk)
        messages += chunk
        if (chunk < this.config.chunkRows) break
        // At least three times as long as the chunk took: the job takes at most a quarter
        // of the writer's time (and of the core it shares), however busy the machine is.
        await sleep(Math.max(this.config.pauseMs, 3 * (performance.now() - chunkStarted)))
      }
    }
    if (messages > 0 || tombstones > 0) {
      this.log.info(
        {
          reason: 'retention',
          deleted: messages,
          before: cutoff,
          tombstones_forgotten: tombstones,
          duration_ms: Math.round(performance.now() - started),
        },
        'retention run',
      )
    }
    return { messages, tombstones }
  }
}
