import { randomBytes } from 'node:crypto'
import pg from 'pg'

// Throwaway schemas on a PostgreSQL server, one per bench run or test: shared by the bench
// harness and the test helpers.

/** Runs one statement on its own connection. */
export async function queryOnce(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await client.query(sql)
  } finally {
    await client.end()
  }
}

/** `url` with its connections using `schema`, then public (where pg_trgm lives). */
function urlWithSchema(url: string, schema: string): string {
  const withSchema = new URL(url)
  withSchema.searchParams.set('options', `-c search_path=${schema},public`)
  return withSchema.toString()
}

/** An empty schema named `<prefix>_<random>`, and the DATABASE_URL whose connections use it. */
export async function createSchema(
  url: string,
  prefix: string,
): Promise<{ schema: string; databaseUrl: string }> {
  try {
    // pg_trgm once in public, where every schema finds it (the migration then skips it).
    // Two processes may race to create it.
    await queryOnce(url, 'CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public')
  } catch (error) {
    if (!['23505', '42710'].includes((error as { code?: string }).code ?? '')) throw error
  }
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`
  await queryOnce(url, `CREATE SCHEMA ${schema}`)
  return { schema, databaseUrl: urlWithSchema(url, schema) }
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  await queryOnce(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`)
}

export async function countRunRows(url: string, schema: string): Promise<number> {
  return Number((await queryOnce(url, `SELECT count(*) AS n FROM ${schema}.messages`)).rows[0]?.n)
}
