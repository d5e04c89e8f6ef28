import { spawn } from 'node:child_process'
import path from 'node:path'
import { HarnessError, LOAD_CORE, track } from './processes.js'

const SCRIPT = path.join(import.meta.dirname, '..', 'wrk-webhook.lua')

/** One wrk thread, as the issue specifies; the Lua script handles more. */
export const WRK_THREADS = 1

export interface WrkStats {
  /** Responses received. */
  requests: number
  /** Requests written, answered or not. */
  sent: number
  /** Responses with status >= 400 (wrk's "Non-2xx or 3xx responses"). */
  non2xx: number
  /** Connect, read and write errors and timeouts. */
  socketErrors: number
  durationUs: number
  p50Us: number
  p99Us: number
}

export interface WrkRun {
  url: string
  connections: number
  durationS: number
  bodiesFile: string
  /** Index of the first body sent. */
  start: number
  /** The header each line's first field goes in. */
  signatureHeader: string
}

/** Runs wrk on the load core and returns what wrk-webhook.lua's done() printed. */
export async function runWrk(run: WrkRun): Promise<WrkStats> {
  const args = [
    '-c',
    LOAD_CORE,
    'wrk',
    `-t${WRK_THREADS}`,
    `-c${run.connections}`,
    `-d${run.durationS}s`,
    '--timeout',
    '5s',
    '-s',
    SCRIPT,
    run.url,
    '--',
    run.bodiesFile,
    String(run.start),
    String(WRK_THREADS),
    run.signatureHeader,
  ]
  const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = track(child)
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    stdout += s
  })
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr += s
  })
  // Loading the bodies takes a few seconds before wrk's clock starts; beyond this it hangs.
  const limitMs = (run.durationS + 60) * 1000
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs)
  const code = await exited
  clearTimeout(timer)
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '))
  if (code !== 0 || line === undefined) {
    throw new HarnessError(`wrk failed (exit ${code}):\n${stdout}${stderr}`)
  }
  return parseStats(line.slice('BENCH_JSON '.length))
}

function parseStats(json: string): WrkStats {
  const s = JSON.parse(json) as Record<string, number>
  const n = (key: string) => {
    const value = s[key]
    if (typeof value !== 'number') throw new HarnessError(`wrk stats lack ${key}: ${json}`)
    return value
  }
  return {
    requests: n('requests'),
    sent: n('sent'),
    non2xx: n('non2xx'),
    socketErrors: n('connect_errors') + n('read_errors') + n('write_errors') + n('timeouts'),
    durationUs: n('duration_us'),
    p50Us: n('p50_us'),
    p99Us: n('p99_us'),
  }
}
