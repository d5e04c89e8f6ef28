import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads'
import { Piscina } from 'piscina'
import { foldCase } from '../../domain/text-search.js'
import type { Bucket, TimelinePoint } from '../../domain/timeline.js'
import { timestampSortKey } from '../../domain/timestamp.js'
import { QueryTimeoutError, ReadsOverloadedError, StorageUnavailableError } from '../../errors.js'
import type { ExportFormat } from '../../export/formats.js'
import type {
  Delivery,
  DeliveryBacklog,
  DeliveryQuery,
  DeliveryReads,
} from '../../forwarding/delivery-store.js'
import { threadUrl } from '../../threads/thread-url.js'
import { CountCache, type KnownCount } from '../count-cache.js'
import { batchesOf, InsertQueue, messageRow, type PendingUnit, unitRows } from '../insert-queue.js'
import { Listeners } from '../listeners.js'
import type {
  DeletionTarget,
  ExportPage,
  FeedEvent,
  IngestBatch,
  IngestResult,
  InsertOutcome,
  MessageDetail,
  MessagePage,
  MessageQuery,
  MessageStore,
  NewMessage,
  Stats,
  StatusDetail,
  StatusPage,
  StatusQuery,
  StoreHealth,
} from '../message-store.js'
import { SCHEMA_VERSION } from './migrations.js'
import type { RowError, UnitOutcome, WriterReply, WriterRequest } from './protocol.js'
import type { ReaderThreadData, ReadTask } from './reader-thread.js'
import { searchIndexFile } from './search-index.js'
import type { UpkeepReply, UpkeepRequest, UpkeepThreadData } from './upkeep-thread.js'
import type { WriterThreadData } from './writer-thread.js'

/** Where the store reports what goes wrong in its threads (a pino logger fits). */
export interface StoreLogger {
  error(fields: Record<string, unknown>, message: string): void
}

export interface SqliteStoreOptions {
  file: string
  /** How long a write waits for a lock held by another process. */
  busyTimeoutMs?: number
  /** Most rows written by one transaction. */
  maxBatchRows?: number
  /** How often the upkeep thread copies the WAL into the database file. */
  checkpointIntervalMs?: number
  /** Reader threads, each with its own read-only connection. */
  readThreads?: number
  /** A read that takes longer (waiting included) fails with QueryTimeoutError. */
  readTimeoutMs?: number
  /** Reads that may wait for a free reader; one more fails with ReadsOverloadedError. */
  readQueueMax?: number
  /** Index committed rows in the background (tests turn it off to make reads meet a tail). */
  indexing?: boolean
  logger?: StoreLogger
}

/** An upkeep thread that stops by itself is restarted after this. */
const UPKEEP_RESTART_MS = 1000

/** Filtered counts remembered (count-cache.ts) across reads and reader threads. */
const COUNT_CACHE_ENTRIES = 256
/** A writer that dies before it is ready is restarted after this, doubling up to the cap. */
const WRITER_RESTART_MS = 100
const WRITER_RESTART_MAX_MS = 5000

type Pending = { resolve: (value: never) => void; reject: (error: unknown) => void }
/** A writer request before the store numbers it. */
type Unnumbered<T> = T extends { id: number } ? Omit<T, 'id'> : never

/** A row's own failure (a constraint), as the caller who inserted it sees it. */
function rowError(error: RowError): Error {
  return Object.assign(new Error(error.message), { code: error.code })
}

/** The key a filtered count is remembered under: the filters as the reader applies them. */
function countKey(query: MessageQuery): string {
  return JSON.stringify([
    query.from ?? null,
    query.since === undefined ? null : timestampSortKey(query.since),
    query.q === undefined ? null : foldCase(query.q),
  ])
}

/**
 * The embedded SQLite adapter. No SQLite call runs on the thread that calls it (the one
 * that answers HTTP): one writer thread owns the only connection that writes messages, a
 * pool of reader threads answers reads on read-only connections, and an upkeep thread keeps
 * the search index and copies the WAL back into the database file.
 *
 * Writes use group commit: the inserts of one event-loop turn, and those that arrive while
 * the writer commits, go to it as one batch, and it commits them in one transaction, so one
 * fsync covers them all. Each caller's promise settles only
 * after the COMMIT that holds its row has returned (synchronous=FULL in WAL mode).
 */
export class SqliteMessageStore implements MessageStore, DeliveryReads {
  /** Transactions and rows committed by group commit (tests read it to see batching). */
  readonly commits = { transactions: 0, rows: 0 }
  /** Settles once the schema is migrated and writes and reads can start. */
  readonly ready: Promise<void>
  private readonly options: Required<Omit<SqliteStoreOptions, 'logger'>> & { logger?: StoreLogger }
  private readonly inserts: InsertQueue
  private readonly counts = new CountCache(COUNT_CACHE_ENTRIES)
  private readonly feedListeners = new Listeners()
  /** Batches sent to the writer and not yet answered, by batch number. */
  private readonly inFlight = new Map<number, PendingUnit[]>()
  /** Writes waiting for the batch in flight to be answered (see sendBatch). */
  private waiting: PendingUnit[] = []
  /** Called once the batch in flight is answered (shutdown waits for the queue to drain). */
  private whenBatchAnswered: (() => void) | undefined
  /** Called on the writer's last reply ('closed'), or when it ends without one (a crash). */
  private whenWriterClosed: (() => void) | undefined
  /** Other requests to the writer not yet answered, by id. */
  private readonly requests = new Map<number, Pending>()
  private nextId = 1
  private writer!: Worker
  private port!: MessagePort
  /** Between a writer's end and its successor's start: writes fail at once instead of waiting. */
  private writerDown = false
  /** Transactions counted by writers that have stopped (each counts from zero). */
  private transactionsBefore = 0
  private writerTransactions = 0
  private restartDelayMs = WRITER_RESTART_MS
  /** Whether any writer became ready: only then is a writer that stops replaced. */
  private everStarted = false
  private upkeep: Worker | undefined
  private readonly upkeepRequests = new Map<number, Pending>()
  private reads: Piscina | undefined
  /** Reads submitted and not yet settled: those beyond the thread count are waiting. */
  private readsInFlight = 0
  /** See ReaderThreadData.opening. */
  private readonly readersOpening = new Int32Array(new SharedArrayBuffer(12))
  private closing = false
  private closed: Promise<void> | undefined

  constructor(options: SqliteStoreOptions) {
    mkdirSync(path.dirname(options.file), { recursive: true })
    this.options = {
      busyTimeoutMs: 5000,
      maxBatchRows: 512,
      checkpointIntervalMs: 25,
      readThreads: 2,
      readTimeoutMs: 5000,
      readQueueMax: 64,
      indexing: true,
      ...options,
    }
    this.inserts = new InsertQueue(this.options.maxBatchRows, (batch) => this.sendBatch(batch))
    this.ready = this.startWriter()
      .then(() => this.startUpkeep())
      .then(() => this.startReaders())
      .then(() => this.readersOpened())
    this.ready.catch(() => {}) // observed by whoever awaits it; never an unhandled rejection
  }

  /** Opens the store and waits until it is ready; fails when the database cannot be opened. */
  static async open(options: SqliteStoreOptions): Promise<SqliteMessageStore> {
    const store = new SqliteMessageStore(options)
    try {
      await store.ready
    } catch (error) {
      await store.close()
      throw error
    }
    return store
  }

  /** Starts a writer thread; resolves when it has migrated the schema and is ready. */
  private startWriter(): Promise<void> {
    const { port1, port2 } = new MessageChannel()
    const workerData: WriterThreadData = {
      port: port2,
      file: this.options.file,
      busyTimeoutMs: this.options.busyTimeoutMs,
      maxBatchRows: this.options.maxBatchRows,
      indexing: this.options.indexing,
    }
    const writer = new Worker(threadUrl(import.meta.url, 'writer-thread'), {
      workerData,
      transferList: [port2],
      // It keeps little between batches: a small young generation keeps RSS down.
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    })
    this.writer = writer
    this.port = port1
    this.writerDown = false
    return new Promise((resolve, reject) => {
      let failure: unknown
      let started = false
      port1.on('message', (reply: WriterReply) => {
        if (reply.kind === 'ready') {
          started = true
          this.everStarted = true
          this.restartDelayMs = WRITER_RESTART_MS
          resolve()
        } else this.onWriterReply(reply)
        if (reply.kind === 'closed') port1.close()
      })
      writer.on('error', (error) => {
        failure = error
      })
      writer.on('exit', (code) => {
        // Ended as asked, its last replies (the 'closed' one last) may still be in the port:
        // keep it until they are read, without keeping the process alive for them.
        if (code === 0) port1.unref()
        else port1.close()
        if (!started) reject(failure ?? new Error(`the writer thread exited with code ${code}`))
        this.onWriterExit(writer, failure, code, started)
      })
    })
  }

  /**
   * A writer that stops without being asked to (a crash, or a test that kills it) loses what
   * it was doing: every batch it had not answered is answered 503 (its transaction either
   * committed or did not; either way it was never acknowledged), and a new writer takes over.
   */
  private onWriterExit(writer: Worker, failure: unknown, code: number, started: boolean): void {
    if (writer !== this.writer) return
    this.writerDown = true
    const answered = this.whenBatchAnswered // a shutdown waiting for the queue to drain
    this.whenBatchAnswered = undefined
    answered?.()
    // Ended as asked (code 0), its last replies may still be on their way through the port:
    // the 'closed' reply says they have all arrived. Otherwise none is coming.
    if (code !== 0) {
      this.whenWriterClosed?.()
      this.whenWriterClosed = undefined
    }
    // Closing, it was asked to stop; a first writer that never started fails `ready` instead.
    if (this.closing || !this.everStarted) return
    this.options.logger?.error(
      { err: failure, exit_code: code },
      'the SQLite writer thread stopped; unanswered writes get 503 and a new writer starts',
    )
    this.failUnanswered(new StorageUnavailableError({ cause: failure }))
    this.transactionsBefore += this.writerTransactions
    this.writerTransactions = 0
    const delay = started ? 0 : this.restartDelayMs
    if (!started) this.restartDelayMs = Math.min(WRITER_RESTART_MAX_MS, this.restartDelayMs * 2)
    setTimeout(() => {
      if (!this.closing) void this.startWriter().catch(() => {})
    }, delay).unref()
  }

  /** Every write not yet answered, sent or still waiting here, fails with `error`. */
  private failUnanswered(error: unknown): void {
    for (const batch of this.inFlight.values()) for (const unit of batch) unit.reject(error)
    this.inFlight.clear()
    for (const unit of this.waiting.splice(0)) unit.reject(error)
    for (const request of this.requests.values()) request.reject(error)
    this.requests.clear()
  }

  private onWriterReply(reply: WriterReply): void {
    switch (reply.kind) {
      case 'inserted': {
        const batch = this.inFlight.get(reply.batch)
        if (batch === undefined) return
        this.inFlight.delete(reply.batch)
        this.writerTransactions = reply.transactions
        this.commits.transactions = this.transactionsBefore + reply.transactions
        this.commits.rows += batch.reduce((rows, unit) => rows + unitRows(unit), 0)
        this.sendWaiting()
        const outcome = (bit: 1 | 0): InsertOutcome => (bit === 1 ? 'created' : 'duplicate')
        let created = false
        for (const [i, unit] of batch.entries()) {
          const result = reply.outcomes[i] as UnitOutcome
          if ('code' in result) unit.reject(rowError(result))
          else {
            created ||= result.messages.includes(1) || result.statuses.includes(1)
            unit.resolve({ messages: result.messages.map(outcome), statuses: result.statuses.map(outcome) })
          }
        }
        if (created) this.feedListeners.notify()
        return
      }
      case 'insert-failed': {
        const batch = this.inFlight.get(reply.batch)
        this.inFlight.delete(reply.batch)
        this.sendWaiting()
        const error = new StorageUnavailableError({ cause: rowError(reply) })
        for (const unit of batch ?? []) unit.reject(error)
        return
      }
      case 'health':
      case 'done': {
        const request = this.requests.get(reply.id)
        this.requests.delete(reply.id)
        if (reply.kind === 'done' && reply.error !== undefined) request?.reject(rowError(reply.error))
        else request?.resolve((reply.kind === 'done' ? reply.result : reply) as never)
        return
      }
      case 'closed':
        this.whenWriterClosed?.()
        this.whenWriterClosed = undefined
        return
      case 'ready':
        return
    }
  }

  /**
   * Starts the upkeep thread (upkeep-thread.ts: the search index and the checkpoints);
   * resolves once the search index file is ready for readers to attach. One that stops
   * later is logged and restarted: searches stay exact meanwhile (they test the rows it has
   * not indexed), and SQLite's own checkpoints inside commits keep the WAL bounded until
   * the next one runs.
   */
  private startUpkeep(): Promise<void> {
    const workerData: UpkeepThreadData = {
      file: this.options.file,
      searchFile: searchIndexFile(this.options.file),
      following: this.options.indexing,
      checkpointIntervalMs: this.options.checkpointIntervalMs,
    }
    const upkeep = new Worker(threadUrl(import.meta.url, 'upkeep-thread'), {
      workerData,
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    })
    this.upkeep = upkeep
    return new Promise((resolve, reject) => {
      let failure: unknown
      let started = false
      upkeep.on('message', (reply: UpkeepReply) => {
        switch (reply.kind) {
          case 'ready':
            started = true
            if (this.everStarted)
              void this.writerRequest({ kind: 'pragma', pragma: 'wal_autocheckpoint = 0' }).catch(() => {})
            resolve()
            return
          case 'rewind':
          case 'purged':
            if (!this.writerDown && !this.closing)
              this.port.postMessage(
                (reply.kind === 'rewind'
                  ? reply
                  : { kind: 'forget-purged', upTo: reply.upTo }) satisfies WriterRequest,
              )
            return
          case 'done': {
            const request = this.upkeepRequests.get(reply.id)
            this.upkeepRequests.delete(reply.id)
            if (reply.error === undefined) request?.resolve(undefined as never)
            else request?.reject(new StorageUnavailableError({ cause: new Error(reply.error) }))
          }
        }
      })
      upkeep.on('error', (error) => {
        failure = error
      })
      upkeep.on('exit', (code) => {
        for (const request of this.upkeepRequests.values()) request.reject(new StorageUnavailableError())
        this.upkeepRequests.clear()
        if (!started) {
          reject(failure ?? new Error(`the upkeep thread exited with code ${code}`))
          return
        }
        if (this.closing || upkeep !== this.upkeep) return
        this.options.logger?.error(
          { err: failure, exit_code: code },
          'the SQLite upkeep thread stopped; the writer checkpoints alone and searches test unindexed rows until a new one catches up',
        )
        void this.writerRequest({ kind: 'pragma', pragma: 'wal_autocheckpoint = 1000' }).catch(() => {})
        setTimeout(() => {
          if (!this.closing) void this.startUpkeep().catch(() => {})
        }, UPKEEP_RESTART_MS).unref()
      })
    })
  }

  private upkeepRequest(request: Unnumbered<UpkeepRequest>): Promise<void> {
    const upkeep = this.upkeep
    if (upkeep === undefined || this.closing) return Promise.reject(new StorageUnavailableError())
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.upkeepRequests.set(id, { resolve: resolve as (value: never) => void, reject })
      upkeep.postMessage({ ...request, id } as UpkeepRequest)
    })
  }

  private startReaders(): void {
    if (this.closing) return
    const workerData: ReaderThreadData = {
      file: this.options.file,
      searchFile: searchIndexFile(this.options.file),
      opening: this.readersOpening,
    }
    this.reads = new Piscina({
      filename: threadUrl(import.meta.url, 'reader-thread').href,
      minThreads: this.options.readThreads,
      maxThreads: this.options.readThreads,
      // Threads live as long as the store: each holds a connection and its page cache.
      idleTimeout: Number.POSITIVE_INFINITY,
      // The queue is bounded in read() instead: piscina does not count abortable tasks
      // (every read has a deadline) against its own maxQueue.
      workerData,
      // A read that materializes too much fails alone (its thread is replaced) instead of
      // growing the process without bound.
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 4 },
    })
    // A thread that fails outside any read (while starting, say); reads it held were answered.
    this.reads.on('error', (error: unknown) => {
      if (!this.closing) this.options.logger?.error({ err: error }, 'a SQLite reader thread failed')
    })
  }

  insert(message: NewMessage): Promise<InsertOutcome> {
    return this.inserts.pushOne(message)
  }

  ingest(batch: IngestBatch): Promise<IngestResult> {
    return this.inserts.push(batch)
  }

  /**
   * One batch at a time goes to the writer; what arrives meanwhile waits here and goes as
   * the next batch when the answer comes. A message to a thread costs the main thread tens
   * of microseconds whatever it holds, so under load this sends one per commit, not one per
   * event-loop turn (measured: 8 % of the main thread at 2,500 webhooks/s before).
   */
  private sendBatch(batch: PendingUnit[]): void {
    if (this.writerDown || this.closed !== undefined) {
      const error = new StorageUnavailableError()
      for (const unit of batch) unit.reject(error)
      return
    }
    for (const unit of batch) this.waiting.push(unit)
    if (this.inFlight.size === 0) this.sendWaiting()
  }

  private sendWaiting(): void {
    const answered = this.whenBatchAnswered
    this.whenBatchAnswered = undefined
    answered?.()
    if (this.waiting.length === 0 || this.writerDown) return
    const batch = batchesOf(this.waiting, this.options.maxBatchRows)[0] as PendingUnit[]
    this.waiting = this.waiting.slice(batch.length)
    const id = this.nextId++
    this.inFlight.set(id, batch)
    const request: WriterRequest = {
      kind: 'insert',
      batch: id,
      units: batch.map((unit) => ({
        messages: unit.messages.map(messageRow),
        statuses: unit.statuses.map((s) => [s.messageId, s.status, s.ts, s.recipientId, s.errors]),
      })),
    }
    this.port.postMessage(request)
  }

  /** Sends a request other than an insert to the writer; settles with its answer. */
  private writerRequest<T>(request: Unnumbered<WriterRequest>): Promise<T> {
    if (this.writerDown || this.closing) return Promise.reject(new StorageUnavailableError())
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.requests.set(id, { resolve: resolve as (value: never) => void, reject })
      this.port.postMessage({ ...request, id } as WriterRequest)
    })
  }

  /** Reads submitted and not yet answered (running or waiting for a reader). */
  get pendingReads(): number {
    return this.readsInFlight
  }

  async list(query: MessageQuery): Promise<MessagePage> {
    return this.listed(query, (known) => ({ kind: 'list', query, known }))
  }

  exportPage(query: MessageQuery, format: ExportFormat, first: boolean): Promise<ExportPage> {
    return this.listed(query, (known) => ({ kind: 'export', query, known, format, first }))
  }

  /** A list read (or an export page) with the count remembered for its filters, remembering the new one. */
  private async listed<T>(query: MessageQuery, task: (known: KnownCount | null) => ReadTask): Promise<T> {
    const key = countKey(query)
    const { page, counted } = await this.read<{ page: T; counted: KnownCount | null }>(
      task(this.counts.get(key) ?? null),
    )
    const held = this.counts.get(key)
    if (counted !== null && (held === undefined || counted.epoch > held.epoch || counted.upTo >= held.upTo))
      this.counts.set(key, counted)
    return page
  }

  async delete(target: DeletionTarget): Promise<number> {
    const deleted = await this.writerRequest<number>({ kind: 'delete', target })
    if (deleted > 0) this.feedListeners.notify()
    return deleted
  }

  pruneTombstones(before: Date): Promise<number> {
    return this.writerRequest<number>({ kind: 'prune-tombstones', beforeMs: before.getTime() })
  }

  async stats(): Promise<Stats> {
    return this.read<Stats>({ kind: 'stats' })
  }

  timeline(bucket: Bucket, buckets: number): Promise<TimelinePoint[]> {
    return this.read({ kind: 'timeline', bucket, buckets })
  }

  getMessage(messageId: string): Promise<MessageDetail | null> {
    return this.read({ kind: 'message', messageId })
  }

  getStatus(messageId: string): Promise<StatusDetail | null> {
    return this.read({ kind: 'status', messageId })
  }

  listStatuses(query: StatusQuery): Promise<StatusPage> {
    return this.read({ kind: 'statuses', query })
  }

  readEvents(after: number, limit: number): Promise<FeedEvent[]> {
    return this.read({ kind: 'events', after, limit })
  }

  feedHead(): Promise<number> {
    return this.read({ kind: 'head' })
  }

  onEvents(listener: () => void): () => void {
    return this.feedListeners.add(listener)
  }

  listDeliveries(query: DeliveryQuery): Promise<Delivery[]> {
    return this.read({ kind: 'deliveries', query })
  }

  deliveryBacklog(urls: string[]): Promise<DeliveryBacklog> {
    return this.read({ kind: 'backlog', urls })
  }

  /**
   * Runs a read on a reader thread, within the read deadline. A read that passes it is
   * answered with QueryTimeoutError at once; if it was running, piscina ends its thread and
   * starts another, so no query can hold a reader forever.
   */
  private async read<T>(task: ReadTask, deadline = true): Promise<T> {
    await this.ready
    if (this.reads === undefined || this.closing) throw new StorageUnavailableError()
    if (this.readsInFlight >= this.options.readThreads + this.options.readQueueMax) {
      throw new ReadsOverloadedError()
    }
    this.readsInFlight += 1
    try {
      const signal = deadline ? AbortSignal.timeout(this.options.readTimeoutMs) : null
      return (await this.reads.run(task, { signal })) as T
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw new QueryTimeoutError()
      throw new StorageUnavailableError({ cause: error })
    } finally {
      this.readsInFlight -= 1
    }
  }

  /** Readiness is the writer's: it answers a query, and takes writes again after they failed. */
  async health(): Promise<StoreHealth> {
    try {
      await this.ready
      const timeout = new Promise<never>((_, reject) => {
        setTimeout(() => reject(new QueryTimeoutError()), this.options.readTimeoutMs).unref()
      })
      const answer = await Promise.race([
        this.writerRequest<{ database: boolean; schemaVersion: number | null }>({ kind: 'health' }),
        timeout,
      ])
      return { database: answer.database, schema: answer.schemaVersion === SCHEMA_VERSION }
    } catch {
      return { database: false, schema: false }
    }
  }

  /**
   * Recomputes the counters and indexes from the messages, after a bulk load that bypassed
   * insert(); resolves once the search index holds every row too.
   */
  async rebuildDerived(): Promise<void> {
    await this.ready
    await this.writerRequest({ kind: 'rebuild' })
    await this.upkeepRequest({ kind: 'catch-up' })
  }

  /**
   * Drains the writer first (every queued insert is committed and answered), then stops the
   * readers and the upkeep thread; the files are closed when the last thread ends.
   */
  close(): Promise<void> {
    this.closed ??= this.shutDown()
    return this.closed
  }

  private async shutDown(): Promise<void> {
    this.inserts.flush() // before `closed` is set: these still go to the writer
    const started = await this.ready.then(
      () => true,
      () => false,
    )
    this.closing = true
    if (started && !this.writerDown) {
      const writer = this.writer
      const exited = new Promise((resolve) => writer.once('exit', resolve))
      // Every insert waiting here goes to the writer first (one batch at a time).
      while (this.waiting.length > 0 && !this.writerDown) {
        await new Promise<void>((resolve) => {
          this.whenBatchAnswered = resolve
        })
      }
      // Messages are handled in order: the writer answers every earlier insert before this,
      // and its 'closed' reply comes after those answers on the same port. The thread's exit
      // event may arrive first, so it is that reply that tells all answers are in.
      if (!this.writerDown) {
        const replied = new Promise<void>((resolve) => {
          this.whenWriterClosed = resolve
        })
        this.port.postMessage({ kind: 'close' } satisfies WriterRequest)
        await replied
      }
      await exited
    }
    this.failUnanswered(new StorageUnavailableError())
    // Readers first: the last connection to close a database (the upkeep thread's, for both
    // files) checkpoints it and removes its WAL, so the files left behind are complete.
    await this.stopReaders()
    const upkeep = this.upkeep
    if (upkeep !== undefined && upkeep.threadId !== -1) {
      // 'exit' also follows a thread that failed, so closing never throws because of it.
      const exited = new Promise((resolve) => upkeep.once('exit', resolve))
      upkeep.postMessage({ kind: 'close' } satisfies UpkeepRequest)
      await exited
    }
  }

  /**
   * Resolves once every reader thread has its connection open, so that the first reads
   * served do not wait for threads to start (after 10 s it gives up waiting: reads wait).
   */
  private async readersOpened(): Promise<void> {
    const opened = this.readersOpening
    const deadline = Date.now() + 10_000
    for (
      let now = Atomics.load(opened, 2);
      now < this.options.readThreads && Date.now() < deadline;
      now = Atomics.load(opened, 2)
    ) {
      await Atomics.waitAsync(opened, 2, now, 100).value
    }
  }

  /** Ends the reader threads, once none is halfway through opening its connection. */
  private async stopReaders(): Promise<void> {
    if (this.reads === undefined) return
    const opening = this.readersOpening
    Atomics.store(opening, 1, 1)
    const deadline = Date.now() + 5000
    for (
      let now = Atomics.load(opening, 0);
      now > 0 && Date.now() < deadline;
      now = Atomics.load(opening, 0)
    ) {
      await Atomics.waitAsync(opening, 0, now, 100).value
    }
    await this.reads.destroy()
  }

  /** Fault injection for tests: stall or kill threads, or change the write connection. */
  readonly faults = {
    /** Keeps the writer busy until released; inserts queue behind it meanwhile. */
    holdWriter: (): Hold & { done: Promise<unknown> } => {
      const gate = newGate()
      const done = this.writerRequest({ kind: 'hold', gate })
      return { ...holding(gate, 1), done }
    },
    /**
     * Keeps `count` reader threads busy until released, each as a read: under the read
     * deadline (so it ends the way a runaway query does), or without one.
     */
    holdReaders: (count: number, { deadline = true } = {}): Hold & { done: Promise<unknown>[] } => {
      const gate = newGate()
      const done = Array.from({ length: count }, () => this.read({ kind: 'hold', gate }, deadline))
      for (const held of done) held.catch(() => {})
      return { ...holding(gate, count), done }
    },
    /** Ends the writer thread at once, as a crash would. */
    killWriter: (): Promise<number> => this.writer.terminate(),
    writerPragma: (pragma: string): Promise<unknown> => this.writerRequest({ kind: 'pragma', pragma }),
  }
}

/** A fault hook's hold: `running` settles once every held thread is blocked; `release` frees them. */
interface Hold {
  running: Promise<void>
  release: () => void
}

const newGate = () => new Int32Array(new SharedArrayBuffer(8))

function holding(gate: Int32Array, count: number): Hold {
  const running = (async () => {
    for (let now = Atomics.load(gate, 1); now < count; now = Atomics.load(gate, 1)) {
      await Atomics.waitAsync(gate, 1, now).value
    }
  })()
  return {
    running,
    release: () => {
      Atomics.store(gate, 0, 1)
      Atomics.notify(gate, 0)
    },
  }
}
