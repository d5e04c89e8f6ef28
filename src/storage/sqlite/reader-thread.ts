// A reader thread (one of a piscina pool): one read-only connection, every read Inlet makes.
// Long reads run here, at a lower priority than the thread that answers HTTP, so even on
// one core they share the CPU instead of stalling acknowledgements.
import { workerData } from 'piscina'
import type { Bucket } from '../../domain/timeline.js'
import { type ExportFormat, exportPage } from '../../export/formats.js'
import type { DeliveryQuery } from '../../forwarding/delivery-store.js'
import { lowerPriority } from '../../threads/idle-priority.js'
import type { KnownCount } from '../count-cache.js'
import type { MessageQuery, StatusQuery } from '../message-store.js'
import { openReadConnection } from './connection.js'
import { DeliveryReader } from './delivery-reader.js'
import { FeedReader } from './feed-reader.js'
import { forwardDatabaseFile } from './forward-database.js'
import { hold } from './hold.js'
import { MessageReader } from './message-reader.js'
import { StatusReader } from './status-reader.js'

export interface ReaderThreadData {
  file: string
  searchFile: string
  /**
   * [threads opening their connection now, store closing, threads that have opened theirs].
   * A thread must not be ended while it loads the SQLite addon (a Node-API module ended
   * halfway through its registration aborts the whole process), so the store waits for the
   * first to reach zero before it ends its threads, and a thread that starts after the
   * store began closing opens nothing. The third tells the store its readers are up.
   */
  opening: Int32Array
}

export type ReadTask =
  | { kind: 'list'; query: MessageQuery; known: KnownCount | null }
  | { kind: 'export'; query: MessageQuery; known: KnownCount | null; format: ExportFormat; first: boolean }
  | { kind: 'stats' }
  | { kind: 'timeline'; bucket: Bucket; buckets: number }
  | { kind: 'message'; messageId: string }
  | { kind: 'status'; messageId: string }
  | { kind: 'statuses'; query: StatusQuery }
  | { kind: 'events'; after: number; limit: number }
  | { kind: 'head' }
  | { kind: 'deliveries'; query: DeliveryQuery }
  | { kind: 'backlog'; urls: string[] }
  /** Fault injection for tests: count in `gate[1]`, then keep this thread busy until `gate[0]` is non-zero. */
  | { kind: 'hold'; gate: Int32Array }

lowerPriority()

const { file, searchFile, opening } = workerData as ReaderThreadData
Atomics.add(opening, 0, 1)
let reader: MessageReader
let statuses: StatusReader
let feed: FeedReader
let deliveries: DeliveryReader
try {
  if (Atomics.load(opening, 1) !== 0) throw new Error('the store is closing')
  const db = openReadConnection(file, searchFile, forwardDatabaseFile(file))
  reader = new MessageReader(db)
  statuses = new StatusReader(db)
  feed = new FeedReader(db)
  deliveries = new DeliveryReader(db)
  Atomics.add(opening, 2, 1)
  Atomics.notify(opening, 2)
} finally {
  Atomics.sub(opening, 0, 1)
  Atomics.notify(opening, 0)
}

export default function read(task: ReadTask): unknown {
  switch (task.kind) {
    case 'list':
      return reader.list(task.query, task.known)
    case 'export': {
      const { page, counted } = reader.list(task.query, task.known)
      return { page: exportPage(task.format, page, task.first), counted }
    }
    case 'stats':
      return reader.stats()
    case 'timeline':
      return reader.timeline(task.bucket, task.buckets)
    case 'message':
      return reader.getMessage(task.messageId)
    case 'status':
      return statuses.get(task.messageId)
    case 'statuses':
      return statuses.list(task.query)
    case 'events':
      return feed.after(task.after, task.limit)
    case 'head':
      return feed.head()
    case 'deliveries':
      return deliveries.list(task.query)
    case 'backlog':
      return deliveries.backlog(task.urls)
    case 'hold':
      hold(task.gate)
      return null
  }
}
