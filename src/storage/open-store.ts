import type { Config } from '../config.js'
import type { MessageStore } from './message-store.js'
import { PostgresMessageStore } from './postgres/postgres-store.js'
import { SqliteMessageStore } from './sqlite/sqlite-store.js'

/** DATABASE_URL → adapter. The only module that knows every driver. */
export async function openStore(config: Config): Promise<MessageStore> {
  const target = config.database
  switch (target.kind) {
    case 'sqlite':
      return new SqliteMessageStore({ file: target.file, busyTimeoutMs: config.sqliteBusyTimeoutMs })
    case 'postgres':
      return PostgresMessageStore.open({ url: target.url, poolMax: config.databasePoolMax })
  }
}
