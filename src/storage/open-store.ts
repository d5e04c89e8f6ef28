import type { Config } from '../config.js'
import type { DeliveryReads } from '../forwarding/delivery-store.js'
import type { MessageStore } from './message-store.js'
import type { StoreLogger } from './sqlite/sqlite-store.js'

/** What every adapter serves HTTP with: the messages and the feed, and forwarding's deliveries to list. */
export type InletStore = MessageStore & DeliveryReads

/**
 * DATABASE_URL → adapter. The only module that knows every driver. Each adapter is loaded
 * when chosen, so a PostgreSQL deployment never loads the SQLite addon, and the entry
 * points can check the Node.js version before any native code runs.
 */
export async function openStore(config: Config, logger?: StoreLogger): Promise<InletStore> {
  const target = config.database
  switch (target.kind) {
    case 'sqlite': {
      const { SqliteMessageStore } = await import('./sqlite/sqlite-store.js')
      return SqliteMessageStore.open({
        file: target.file,
        busyTimeoutMs: config.sqliteBusyTimeoutMs,
        readThreads: config.sqliteReadThreads,
        readTimeoutMs: config.readTimeoutMs,
        readQueueMax: config.readQueueMax,
        ...(logger ? { logger } : {}),
      })
    }
    case 'postgres': {
      const { PostgresMessageStore } = await import('./postgres/postgres-store.js')
      return PostgresMessageStore.open({ url: target.url, poolMax: config.databasePoolMax })
    }
  }
}
