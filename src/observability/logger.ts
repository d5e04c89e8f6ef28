import pino, { type DestinationStream, type Logger } from 'pino'
import type { LogLevel } from '../config.js'

let cachedMs = 0
let cachedTimestamp = ''

/** `,"ts":"<ISO-8601>"`, formatted once per millisecond: at thousands of lines a second most share one. */
function timestamp(): string {
  const now = Date.now()
  if (now !== cachedMs) {
    cachedMs = now
    cachedTimestamp = `,"ts":"${new Date(now).toISOString()}"`
  }
  return cachedTimestamp
}

/**
 * JSON lines with the contract's field names: `ts` (ISO-8601 UTC, milliseconds) and
 * `level` as a word. No pid/hostname: the platform adds those where it wants them.
 */
export function createLogger(level: LogLevel, destination: DestinationStream): Logger {
  return pino(
    {
      level,
      base: null,
      messageKey: 'msg',
      timestamp,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  )
}

/**
 * Stdout written asynchronously: the request path never waits for the terminal or a log
 * collector. Lines that arrive while a write is in flight are written together by the next
 * one, so a line is never held back waiting for more. The buffer is bounded (lines beyond
 * it are dropped rather than growing memory without limit) and is flushed on shutdown.
 */
export function stdoutDestination(): ReturnType<typeof pino.destination> {
  return pino.destination({ fd: 1, sync: false, maxLength: 16 * 1024 * 1024 })
}
