import type { Readable, Writable } from 'node:stream'

export type Env = Readonly<Record<string, string | undefined>>

/** A stream a command writes to; `isTTY` tells whether a progress line may be redrawn in place. */
export type Output = Writable & { isTTY?: boolean }

/**
 * What a command may touch, handed over by the entry (inlet.ts): the one place that reads
 * `process`, installs signal handlers and exits.
 */
export interface CliContext {
  env: Env
  stdin: Readable
  stdout: Output
  stderr: Output
  /** Aborted on SIGINT or SIGTERM, for the commands that declare `interruptible`. */
  signal: AbortSignal
}

export interface Command {
  name: string
  /** One line for `inlet --help`. */
  summary: string
  /** What `inlet <name> --help` prints; starts with `Usage: inlet <name>`. */
  usage: string
  /** Stops cleanly through `context.signal`; the others end as any process does on a signal. */
  interruptible?: boolean
  /** The process outlives run() (serve: the server owns it from then on, exit included). */
  keepsRunning?: boolean
  run(argv: string[], context: CliContext): Promise<void>
}

/**
 * The one way a command fails: its message becomes the single stderr line
 * `inlet <command>: <message>`, and the exit code 1. No stack trace.
 */
export class CliError extends Error {
  override name = 'CliError'
}

/** Writes one line, waiting when the reader is slower than we are (a pipe into `less`). */
export async function writeLine(out: Output, line: string): Promise<void> {
  if (!out.write(`${line}\n`)) await new Promise<void>((resolve) => out.once('drain', resolve))
}
