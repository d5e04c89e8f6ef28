import { timestampSortKey } from '../domain/timestamp.js'
import type { IngestBatch, IngestResult, InsertOutcome, NewMessage, NewStatus } from './message-store.js'

/** A message ready for storage, with the instant's sort key (domain/timestamp.ts). */
export interface KeyedMessage {
  message: NewMessage
  tsKey: string
}

/**
 * A message's stored columns, in the order both adapters pass them: message_id, from, to,
 * ts, ts_key, text, source, type, contact_name, phone_number_id, payload.
 */
export type MessageRow = [
  string,
  string,
  string,
  string,
  string,
  string | null,
  string,
  string | null,
  string | null,
  string | null,
  string | null,
]

export function messageRow({ message: m, tsKey }: KeyedMessage): MessageRow {
  return [
    m.message_id,
    m.from,
    m.to,
    m.ts,
    tsKey,
    m.text,
    m.source ?? 'webhook',
    m.type ?? null,
    m.contactName ?? null,
    m.phoneNumberId ?? null,
    m.payload ?? null,
  ]
}

/**
 * One caller's writes (a webhook's message, or everything in a provider's request), waiting
 * for the commit of the transaction that holds them. A unit is never split between
 * transactions, and fails or succeeds as a whole.
 */
export interface PendingUnit {
  messages: KeyedMessage[]
  statuses: NewStatus[]
  resolve: (result: IngestResult) => void
  reject: (error: unknown) => void
}

export const unitRows = (unit: Pick<PendingUnit, 'messages' | 'statuses'>) =>
  unit.messages.length + unit.statuses.length

/**
 * Group commit, the part both adapters share: writes requested during one event-loop turn
 * are handed to `write` together at the next turn (`setImmediate`, no timer: under light
 * traffic a batch is one webhook and goes at once), about `maxBatchRows` rows at a time (a
 * unit bigger than that goes alone). The adapter commits each batch and settles every
 * caller's promise after that commit.
 */
export class InsertQueue {
  private queue: PendingUnit[] = []
  private scheduled = false

  constructor(
    private readonly maxBatchRows: number,
    private readonly write: (batch: PendingUnit[]) => void,
  ) {}

  push(batch: IngestBatch): Promise<IngestResult> {
    const messages: KeyedMessage[] = []
    for (const message of batch.messages) {
      const tsKey = timestampSortKey(message.ts)
      if (tsKey === null) return Promise.reject(new TypeError('ts is not a valid timestamp'))
      messages.push({ message, tsKey })
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ messages, statuses: batch.statuses, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(this.flush)
      }
    })
  }

  /** One message on its own: its outcome once committed. */
  pushOne(message: NewMessage): Promise<InsertOutcome> {
    return this.push({ messages: [message], statuses: [] }).then(
      (result) => result.messages[0] as InsertOutcome,
    )
  }

  /** Hands over what is queued now (also used on close, so nothing queued is dropped). */
  readonly flush = (): void => {
    this.scheduled = false
    const queue = this.queue
    this.queue = []
    for (const batch of batchesOf(queue, this.maxBatchRows)) this.write(batch)
  }
}

/** Consecutive units, about `maxRows` rows per batch; a bigger unit is a batch of its own. */
export function batchesOf(units: PendingUnit[], maxRows: number): PendingUnit[][] {
  const batches: PendingUnit[][] = []
  let current: PendingUnit[] = []
  let rows = 0
  for (const unit of units) {
    const size = unitRows(unit)
    if (current.length > 0 && rows + size > maxRows) {
      batches.push(current)
      current = []
      rows = 0
    }
    current.push(unit)
    rows += size
  }
  if (current.length > 0) batches.push(current)
  return batches
}
