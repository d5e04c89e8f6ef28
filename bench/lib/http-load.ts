import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'

/** A keep-alive agent with room for an open loop's backlog. */
export function loadAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 256 })
}

/** One HTTP request on the shared keep-alive agent; resolves with the status, 0 on a socket error. */
export function send(
  agent: Agent,
  port: number,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ agent, host: '127.0.0.1', port, method, path, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', () => resolve(0))
    req.end(body)
  })
}

/** Nearest rank on a copy: the p-th percentile of `values` (0 when empty). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = Float64Array.from(values).sort()
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number
}

/** The largest value (0 when empty), without spreading a long array into arguments. */
export function maximum(values: number[]): number {
  return values.reduce((max, v) => Math.max(max, v), 0)
}

/** Current resident set size of a process, in MiB. */
export function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? 0 : Number(match[1]) / 1024
}
