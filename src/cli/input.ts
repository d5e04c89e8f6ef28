import { open } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { CliError } from './command.js'

/** FILE (`-` or none: stdin), opened now so that a missing file is one line before any work starts. */
export async function openInput(file: string | undefined, stdin: Readable): Promise<Readable> {
  if (file === undefined || file === '-') return stdin
  try {
    const handle = await open(file, 'r')
    if ((await handle.stat()).isDirectory()) {
      await handle.close()
      throw new CliError(`${file}: is a directory`)
    }
    return handle.createReadStream()
  } catch (error) {
    throw error instanceof CliError ? error : new CliError(fileProblem(file, error))
  }
}

/** `data.ndjson: no such file`, from a failed fs call. */
export function fileProblem(file: string, error: unknown): string {
  const code = (error as { code?: string }).code
  const reasons: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
    EEXIST: 'exists already',
  }
  return `${file}: ${(code && reasons[code]) ?? (error as Error).message}`
}

/** The whole input as bytes, unchanged (sign: one body, never large). */
export async function readAll(input: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of input) chunks.push(Buffer.from(chunk as Uint8Array))
  return Buffer.concat(chunks)
}

export interface Line {
  /** 1-based, counting every line of the input (blank ones too), as an editor shows them. */
  number: number
  /** The line's exact bytes without its `\n` (or `\r\n`); null when longer than the limit. */
  bytes: Buffer | null
}

/**
 * The input's lines as they come, as bytes. Not readline: it decodes to strings, which would
 * replace invalid UTF-8 and so change the bytes that are signed and sent. The loop awaits
 * its consumer, so no more than one chunk and one line are held, whatever the input size.
 */
export async function* readLines(
  input: AsyncIterable<Uint8Array>,
  maxLineBytes: number,
): AsyncGenerator<Line> {
  let parts: Buffer[] = []
  let held = 0
  let tooLong = false
  let number = 0
  const finish = (): Line => {
    number += 1
    let bytes: Buffer | null = null
    if (!tooLong) {
      bytes = Buffer.concat(parts, held)
      if (bytes.at(-1) === 0x0d) bytes = bytes.subarray(0, -1)
    }
    parts = []
    held = 0
    tooLong = false
    return { number, bytes }
  }
  for await (const chunk of input) {
    const buffer = Buffer.from(chunk)
    let start = 0
    for (;;) {
      const end = buffer.indexOf(0x0a, start)
      const piece = buffer.subarray(start, end === -1 ? buffer.length : end)
      if (!tooLong) {
        held += piece.length
        if (held > maxLineBytes) {
          tooLong = true
          parts = []
        } else if (piece.length > 0) parts.push(piece)
      }
      if (end === -1) break
      yield finish()
      start = end + 1
    }
  }
  if (held > 0 || tooLong) yield finish()
}

/** A line with nothing but spaces or tabs (NDJSON readers skip them). */
export function isBlank(bytes: Buffer): boolean {
  return bytes.every((byte) => byte === 0x20 || byte === 0x09 || byte === 0x0d)
}
