import type { IncomingHttpHeaders } from 'node:http'
import { AppError } from '../errors.js'
import type { IngestBatch, IngestResult, MessageStore } from '../storage/message-store.js'
import { parseJsonBody } from './json-body.js'

/**
 * An inbound format: how its requests prove who sent them and what they carry. Each lives
 * in a folder of its own (sources/<name>/: its verifier, its mapping, its fixtures beside
 * its tests), and every one is received the same way (receive below), so a new provider is
 * one new folder and one route.
 */
export interface Source<Mapped extends { batch: IngestBatch }> {
  /** The answer while its secret is not configured (503). */
  readonly notConfigured: AppError
  /** True when the raw bytes carry a valid signature under one of `secrets`. */
  verify(secrets: readonly string[], raw: Buffer, headers: IncomingHttpHeaders): boolean
  /** A parsed JSON body → what to store (throws a 422 AppError for a body of the wrong shape). */
  map(body: unknown): Mapped
}

export interface Received<Mapped> {
  mapped: Mapped
  result: IngestResult
}

/**
 * The one path every source takes: signature over the exact bytes received, before any
 * parsing (unsigned garbage costs one HMAC and touches nothing else); then JSON; then the
 * source's mapping; then one batch to the store, resolved once it is committed.
 * `secrets` is null while the source is not configured. `parsed` sees the body before it
 * is mapped (the access line wants a message_id even when the body is invalid).
 */
export async function receive<Mapped extends { batch: IngestBatch }>(
  source: Source<Mapped>,
  secrets: readonly string[] | null,
  raw: Buffer,
  headers: IncomingHttpHeaders,
  store: MessageStore,
  parsed?: (body: unknown) => void,
): Promise<Received<Mapped>> {
  if (secrets === null) throw source.notConfigured
  if (!source.verify(secrets, raw, headers)) throw new AppError('invalid_signature', 'invalid signature')
  const body = parseJsonBody(raw)
  parsed?.(body)
  const mapped = source.map(body)
  const result = await store.ingest(mapped.batch)
  return { mapped, result }
}

/** The current secret and, during a rotation, the previous one; null while there is none. */
export function secretsOf(current: string | null, previous: string | null): readonly string[] | null {
  if (current === null) return null
  return previous === null ? [current] : [current, previous]
}

/** One header's value, when it was sent once. */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return typeof value === 'string' ? value : undefined
}
