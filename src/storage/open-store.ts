import type { Config } from '../config.js'
import type { MessageStore } from './message-store.js'

/**
 * DATABASE_URL → adapter. The only module that knows every driver. Each adapter is loaded
 * when chosen, so a PostgreSQL deployment never loads the SQLite addon, and the entry
 * points can check the Node.js version before any native code runs.
 */
export async function openStore(config: Config): Promise<MessageStore> {
  const target = config.database
  switch (target.kind) {
    case 'sqlite': {
      const { SqliteMessageStore } = await import('./sqlite/sqlite-store.js')
      return new SqliteMessageStore({ file: target.file, busyTimeoutMs: config.sqliteBusyTimeoutMs })
    }
    case 'postgres': {
      const { PostgresMessageStore } = await import('./postgres/postgres-store.js')
      return PostgresMessageStore.open({ url: target.url, poolMax: config.databasePoolMax })
    }
  }
}
