import type { ForwardConfig, LogLevel } from '../config.js'
import type { DeliveryOutcome } from '../observability/metrics.js'
import type { RetryOutcome } from './delivery-store.js'

// What the main thread and the forwarder thread say to each other (forwarder-host.ts,
// forwarder-thread.ts). Plain data only: it crosses threads by structured clone.

export interface ForwarderThreadData {
  config: ForwardConfig
  logLevel: LogLevel
  /** The thread opens its own connections: SQLite's deliveries file and the feed, or a small PostgreSQL pool. */
  store: { kind: 'sqlite'; file: string; busyTimeoutMs: number } | { kind: 'postgres'; url: string }
}

export type ToForwarder =
  /** A commit added events (on PostgreSQL the thread also LISTENs itself). */
  { kind: 'wake' } | { kind: 'retry'; id: number; deliveryId: number } | { kind: 'stop' }

export type FromForwarder =
  | { kind: 'started' }
  | { kind: 'start-failed'; message: string }
  /** Log lines (already formatted) and attempt counts since the last report. */
  | { kind: 'report'; lines: string[]; counts: Partial<Record<DeliveryOutcome, number>> }
  | { kind: 'retried'; id: number; outcome?: RetryOutcome; error?: string }
  | { kind: 'stopped' }
