import { randomBytes } from 'node:crypto'
import path from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import type { MessageStore } from '../../src/storage/message-store.js'
import { PostgresMessageStore } from '../../src/storage/postgres/postgres-store.js'
import { SqliteMessageStore } from '../../src/storage/sqlite/sqlite-store.js'
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
  openStore(): Promise<MessageStore>
  /** The stored messages in arrival order, read directly from the database. */
  rows(): Promise<StoredRow[]>
  /** Runs SQL on the database behind the app's back (to break it, say). */
  execute(sql: string): Promise<void>
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
    openStore: async () => new SqliteMessageStore({ file }),
    rows: async () =>
      withDb(
        (db) =>
          db
            .prepare('SELECT message_id, from_msisdn, to_msisdn, ts, text FROM messages ORDER BY rowid')
            .all() as StoredRow[],
      ),
    execute: async (sql) => withDb((db) => void db.exec(sql)),
  })
}

/** Runs one statement as the test database's own user, outside any test schema. */
export async function adminQuery(sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  try {
    return await client.query(sql)
  } finally {
    await client.end()
  }
}

/** A DATABASE_URL whose connections use `schema` (then public, where pg_trgm lives). */
export function urlWithSchema(schema: string): string {
  const url = new URL(TEST_DATABASE_URL as string)
  url.searchParams.set('options', `-c search_path=${schema},public`)
  return url.toString()
}

/** An empty schema in the test server, dropped when the test ends. */
export async function freshSchema(
  t: TestContext,
  cleanup: () => void | Promise<void> = () => {},
): Promise<string> {
  if (TEST_DATABASE_URL === undefined) throw new Error(POSTGRES_SKIP_REASON)
  const schema = `inlet_test_${randomBytes(6).toString('hex')}`
  try {
    // Once per server; migrations then find it. Two test processes may race to create it.
    await adminQuery('CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public')
  } catch (error) {
    if (!['23505', '42710'].includes((error as { code?: string }).code ?? '')) throw error
  }
  await adminQuery(`CREATE SCHEMA ${schema}`)
  t.after(async () => {
    await cleanup()
    await adminQuery(`DROP SCHEMA ${schema} CASCADE`)
  })
  return schema
}

async function freshPostgresDatabase(
  t: TestContext,
  cleanup: () => void | Promise<void>,
): Promise<TestDatabase> {
  const schema = await freshSchema(t, cleanup)
  const url = urlWithSchema(schema)
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      return (await client.query(sql)).rows
    } finally {
      await client.end()
    }
  }
  return {
    url,
    openStore: () => PostgresMessageStore.open({ url }),
    rows: async () =>
      (await run(
        'SELECT message_id, from_msisdn, to_msisdn, ts, text FROM messages ORDER BY seq',
      )) as StoredRow[],
    execute: async (sql) => void (await run(sql)),
  }
}
