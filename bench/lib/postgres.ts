import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** Runs one statement on the bench's PostgreSQL server. */
async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await client.query(sql)
  } finally {
    await client.end()
  }
}

/** An empty schema for one Inlet run, and the DATABASE_URL whose connections use it. */
export async function createRunSchema(url: string): Promise<{ schema: string; databaseUrl: string }> {
  // pg_trgm once in public, where every run's schema finds it (the migration then skips it).
  await query(url, 'CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public')
  const schema = `inlet_bench_${randomBytes(4).toString('hex')}`
  await query(url, `CREATE SCHEMA ${schema}`)
  const databaseUrl = new URL(url)
  databaseUrl.searchParams.set('options', `-c search_path=${schema},public`)
  return { schema, databaseUrl: databaseUrl.toString() }
}

export async function countRunRows(url: string, schema: string): Promise<number> {
  return Number((await query(url, `SELECT count(*) AS n FROM ${schema}.messages`)).rows[0]?.n)
}

export async function dropRunSchema(url: string, schema: string): Promise<void> {
  await query(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`)
}
