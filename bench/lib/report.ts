import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'

export type ServerName = 'ceiling' | 'inlet'

export interface RowCheck {
  rows: number
  /** Rows the 200s alone account for (prefill + 200s of warm-up and measured run). */
  answered: number
  /** Plus requests wrk had sent but not seen answered when it stopped. */
  upTo: number
  ok: boolean
}

export interface RunResult {
  run: number
  server: ServerName
  reqPerSec: number
  p50Ms: number
  p99Ms: number
  cpuUsPerReq: number
  peakRssMiB: number
  non2xx: number
  socketErrors: number
  rowCheck: RowCheck | null
  /** Share of the server's core that other processes (or the hypervisor) took while measuring. */
  coreOtherPct: number
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  if (sorted.length === 0) return Number.NaN
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

function command(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return 'unknown'
  }
}

/** wrk -v prints its version on the first line and exits non-zero. */
function wrkVersion(): string {
  const result = spawnSync('wrk', ['-v'], { encoding: 'utf8' })
  return `${result.stdout ?? ''}`.split('\n')[0]?.replace(/ Copyright.*/, '') || 'unknown'
}

export function describeMachine(dbDir: string): string[] {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : ''
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown'
  return [
    `- CPU: ${model}, ${os.cpus().length} cores`,
    `- memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- kernel: ${os.type()} ${os.release()}`,
    `- node: ${process.version}, ${wrkVersion()}`,
    // The filesystem, not the path: results must not name a machine's folders.
    `- database filesystem: ${command('stat', ['-f', '-c', '%T', dbDir])}`,
    `- date: ${new Date().toISOString()}`,
  ]
}

const HEADER = ['run', 'server', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'peak RSS MiB', 'non-2xx', 'rows']

function rowCell(check: RowCheck | null): string {
  if (check === null) return '-'
  const range = check.upTo === check.answered ? `${check.answered}` : `${check.answered}..${check.upTo}`
  return `${check.ok ? 'OK' : 'MISMATCH'} ${check.rows} (expected ${range})`
}

export function resultRow(r: RunResult): string[] {
  return [
    String(r.run),
    r.server,
    r.reqPerSec.toFixed(0),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    r.cpuUsPerReq.toFixed(1),
    r.peakRssMiB.toFixed(1),
    String(r.non2xx + r.socketErrors),
    rowCell(r.rowCheck),
  ]
}

function medianRow(results: RunResult[], server: ServerName): string[] {
  const mine = results.filter((r) => r.server === server)
  const m = (pick: (r: RunResult) => number) => median(mine.map(pick))
  return [
    'median',
    server,
    m((r) => r.reqPerSec).toFixed(0),
    m((r) => r.p50Ms).toFixed(2),
    m((r) => r.p99Ms).toFixed(2),
    m((r) => r.cpuUsPerReq).toFixed(1),
    m((r) => r.peakRssMiB).toFixed(1),
    String(mine.reduce((sum, r) => sum + r.non2xx + r.socketErrors, 0)),
    '',
  ]
}

/** Medians of three runs hide a noisy machine; the range shows it. */
export function spread(results: RunResult[]): string {
  const range = (server: ServerName) => {
    const rates = results.filter((r) => r.server === server).map((r) => r.reqPerSec)
    return `${Math.min(...rates).toFixed(0)}-${Math.max(...rates).toFixed(0)}`
  }
  return `req/s range: ceiling ${range('ceiling')}, inlet ${range('inlet')}`
}

/** Numbers from a core shared with something else are not the server's. */
export function interferenceWarnings(results: RunResult[]): string[] {
  return results
    .filter((r) => r.coreOtherPct > 10)
    .map(
      (r) =>
        `warning: run ${r.run} (${r.server}): ${r.coreOtherPct.toFixed(0)}% of the server's core went to ` +
        'other processes while measuring; the machine was not quiet',
    )
}

export function ratio(results: RunResult[]): number {
  const rate = (server: ServerName) =>
    median(results.filter((r) => r.server === server).map((r) => r.reqPerSec))
  return rate('inlet') / rate('ceiling')
}

export function tableRows(results: RunResult[]): string[][] {
  return [...results.map(resultRow), medianRow(results, 'ceiling'), medianRow(results, 'inlet')]
}

export function textTable(rows: string[][], header: string[] = HEADER): string {
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)))
  return all.map((row) => row.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ')).join('\n')
}

/** Padded as biome formats Markdown, so that the written file passes `npm run lint`. */
export function markdownTable(rows: string[][], header: string[] = HEADER): string {
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(3, ...all.map((row) => (row[i] ?? '').length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

/**
 * Replaces the section under `heading` (up to the next "## " heading), keeping the rest;
 * a new section goes at the end.
 */
export function writeSection(file: string, section: string, heading = '## Ingest'): void {
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n'
  const lines = before.replace(/\n*$/, '').split('\n')
  const start = lines.findIndex((l) => l.trim() === heading)
  let next: string[]
  if (start === -1) {
    next = [...lines, '', section.trimEnd()]
  } else {
    const after = lines.findIndex((l, i) => i > start && /^## /.test(l))
    const rest = after === -1 ? [] : ['', ...lines.slice(after)]
    next = [...lines.slice(0, start), section.trimEnd(), ...rest]
  }
  writeFileSync(file, `${next.join('\n')}\n`)
}
