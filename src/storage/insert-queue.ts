import { timestampSortKey } from '../domain/timestamp.js'
import type { InsertOutcome, Message } from './message-store.js'

/** A webhook waiting for its batch's commit. */
export interface PendingInsert {
  message: Message
  /** The instant's sort key (domain/timestamp.ts). */
  tsKey: string
  resolve: (outcome: InsertOutcome) => void
  reject: (error: unknown) => void
}

/**
 * Group commit, the part both adapters share: inserts requested during one event-loop turn
 * are handed to `write` together at the next turn (`setImmediate`, no timer: under light
 * traffic a batch is one message and goes at once), at most `maxBatchRows` at a time. The
 * adapter commits each batch and settles every caller's promise after that commit.
 */
export class InsertQueue {
  private queue: PendingInsert[] = []
  private scheduled = false

  constructor(
    private readonly maxBatchRows: number,
    private readonly write: (batch: PendingInsert[]) => void,
  ) {}

  push(message: Message): Promise<InsertOutcome> {
    const tsKey = timestampSortKey(message.ts)
    if (tsKey === null) return Promise.reject(new TypeError('ts is not a valid timestamp'))
    return new Promise((resolve, reject) => {
      this.queue.push({ message, tsKey, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(this.flush)
      }
    })
  }

  /** Hands over what is queued now (also used on close, so nothing queued is dropped). */
  readonly flush = (): void => {
    this.scheduled = false
    const queue = this.queue
    this.queue = []
    for (let start = 0; start < queue.length; start += this.maxBatchRows) {
      this.write(queue.slice(start, start + this.maxBatchRows))
    }
  }
}
