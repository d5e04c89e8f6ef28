import path from 'node:path'
import Database from 'better-sqlite3'
import { createSchema, dropSchema, queryOnce } from '../../bench/lib/postgres.js'
import type { Config } from '../../src/config.js'
import { type InletStore, openStore } from '../../src/storage/open-store.js'
import { PostgresMessageStore } from '../../src/storage/postgres/postgres-store.js'
import {
  SqliteMessageStore,
  type SqliteStoreOptions,
  type StoreLogger,
} from '../../src/storage/sqlite/sqlite-store.js'
import { tempDir } from './temp-dir.js'

type TestContext = { after(fn: () => void | Promise<void>): void }

/**
 * Which adapter the shared suites run against: SQLite unless INLET_TEST_STORE=postgres
 * (`npm test` runs them once per adapter; see test/postgres/run-shared-suites.ts).
 */
export const STORE_KIND: 'sqlite' | 'postgres' =
  process.env.INLET_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite'

/** The PostgreSQL server tests may use; each test gets a schema of its own in it. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined

/** Why a PostgreSQL-only test is skipped, or undefined when it can run. */
export const POSTGRES_SKIP_REASON =
  TEST_DATABASE_URL === undefined
    ? 'TEST_DATABASE_URL is not set: no PostgreSQL server to test against'
    : undefined

/** A row of the messages table as stored. */
export interface StoredRow {
  message_id: string
  from_msisdn: string
  to_msisdn: string
  ts: string
  text: string | null
}

/** A fresh, empty database of the adapter under test, removed when the test ends. */
export interface TestDatabase {
  /** DATABASE_URL that points the app at it. */
  url: string
  /** The SQLite file, for the SQLite-only tests. */
  file?: string
  /** Opens the store as the server would from `config` (its threads, deadlines, pool), else with defaults. */
  openStore(config?: Config, logger?: StoreLogger): Promise<InletStore>
  /** The stored messages in arrival order, read directly from the database. */
  rows(): Promise<StoredRow[]>
  /** Runs SQL on the database behind the app's back (to break it, say). */
  execute(sql: string): Promise<void>
  /** Reads rows behind the app's back, with SQL both databases understand. */
  query(sql: string): Promise<Record<string, unknown>[]>
}

/**
 * A SQLite store on a file of its own in a temporary folder, ready (schema migrated, threads
 * started); closed, then removed, when the test ends.
 */
export async function tempSqliteStore(
  t: TestContext,
  name = 'store.db',
  options: Partial<SqliteStoreOptions> = {},
): Promise<{ store: SqliteMessageStore; file: string }> {
  let store: SqliteMessageStore | undefined
  const file = path.join(
    tempDir(t, () => store?.close()),
    name,
  )
  store = await SqliteMessageStore.open({ file, ...options })
  return { store, file }
}

export function freshTestDatabase(t: TestContext, cleanup: () => void | Promise<void> = () => {}) {
  return STORE_KIND === 'postgres' ? freshPostgresDatabase(t, cleanup) : freshSqliteDatabase(t, cleanup)
}

function freshSqliteDatabase(t: TestContext, cleanup: () => void | Promise<void>): Promise<TestDatabase> {
  const file = path.join(tempDir(t, cleanup), 'app.db')
  const withDb = <T>(run: (db: Database.Database) => T): T => {
    const db = new Database(file)
    try {
      return run(db)
    } finally {
      db.close()
    }
  }
  return Promise.resolve({
    url: `sqlite:///${file}`,
    file,
    openStore: (config, logger) => (config ? openStore(config, logger) : SqliteMessageStore.open({ file })),
    rows: async () =>
      withDb(
        (db) =>
          db
            .prepare('SELECT message_id, from_msisdn, to_msisdn, ts, text FROM messages ORDER BY rowid')
            .all() as StoredRow[],
      ),
    execute: async (sql) => withDb((db) => void db.exec(sql)),
    query: async (sql) => withDb((db) => db.prepare(sql).all() as Record<string, unknown>[]),
  })
}

/** Runs one statement on the test server, outside any test schema. */
export const adminQuery = (sql: string) => queryOnce(TEST_DATABASE_URL as string, sql)

/** An empty schema in the test server, dropped when the test ends; returns the DATABASE_URL that uses it. */
export async function freshSchema(
  t: TestContext,
  cleanup: () => void | Promise<void> = () => {},
): Promise<{ schema: string; url: string }> {
  if (TEST_DATABASE_URL === undefined) throw new Error(POSTGRES_SKIP_REASON)
  const { schema, databaseUrl } = await createSchema(TEST_DATABASE_URL, 'inlet_test')
  t.after(async () => {
    await cleanup()
    await dropSchema(TEST_DATABASE_URL as string, schema)
  })
  return { schema, url: databaseUrl }
}

async function freshPostgresDatabase(
  t: TestContext,
  cleanup: () => void | Promise<void>,
): Promise<TestDatabase> {
  const { url } = await freshSchema(t, cleanup)
  return {
    url,
    openStore: (config, logger) => (config ? openStore(config, logger) : PostgresMessageStore.open({ url })),
    rows: async () =>
      (await queryOnce(url, 'SELECT message_id, from_msisdn, to_msisdn, ts, text FROM messages ORDER BY seq'))
        .rows as StoredRow[],
    execute: async (sql) => void (await queryOnce(url, sql)),
    query: async (sql) => (await queryOnce(url, sql)).rows,
  }
}
