import type { Output } from './command.js'

const INTERVAL_MS = 1000

/**
 * A progress line on stderr, at most once a second: redrawn in place on a terminal, one
 * line per second otherwise (a log file keeps a readable history). Short runs print none.
 */
export class Progress {
  private readonly timer: NodeJS.Timeout
  private shown = false
  readonly startedAt = performance.now()

  constructor(
    private readonly out: Output,
    private readonly render: (elapsedS: number) => string,
  ) {
    this.timer = setInterval(() => this.draw(), INTERVAL_MS)
    this.timer.unref()
  }

  private draw(): void {
    const line = this.render((performance.now() - this.startedAt) / 1000)
    if (this.out.isTTY) {
      this.out.write(`\r${line}\u001b[K`)
      this.shown = true
    } else {
      this.out.write(`${line}\n`)
    }
  }

  private clear(): void {
    if (this.shown) this.out.write('\r\u001b[K')
    this.shown = false
  }

  /** A line of its own (a failed input line): the progress line is cleared first, redrawn on the next tick. */
  log(line: string): void {
    this.clear()
    this.out.write(`${line}\n`)
  }

  stop(): void {
    clearInterval(this.timer)
    this.clear()
  }
}

/** Items per second, rounded, for a progress line. */
export function rate(count: number, elapsedS: number): string {
  return `${elapsedS > 0 ? Math.round(count / elapsedS) : 0}/s`
}

/** 1536 → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`
}

/** What happened to the lines of an NDJSON input (send, import). */
export class Tally {
  created = 0
  duplicate = 0
  failed = 0
  /** Stored by a server that did not say whether the message was new (no x-inlet-result). */
  accepted = 0

  get done(): number {
    return this.created + this.duplicate + this.failed + this.accepted
  }

  /** `created 5, duplicate 2, failed 1`: the summary and the progress line end alike. */
  counts(): string {
    const accepted = this.accepted > 0 ? `, accepted ${this.accepted} (new or duplicate: not said)` : ''
    return `created ${this.created}, duplicate ${this.duplicate}, failed ${this.failed}${accepted}`
  }

  /** `sent 12000 lines: created 11890, duplicate 100, failed 10 (2400/s)`. */
  progress(verb: string, elapsedS: number): string {
    return `${verb} ${this.done} lines: ${this.counts()} (${rate(this.done, elapsedS)})`
  }

  /** The error a run with failed lines ends with, after its summary. */
  failure(): string | null {
    return this.failed === 0 ? null : `${this.failed} of ${this.done} lines failed`
  }
}
