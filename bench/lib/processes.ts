import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/** Cores: the server gets one to itself; wrk and this harness share the other. */
export const SERVER_CORE = '0'
export const LOAD_CORE = '1'

export class HarnessError extends Error {}

/** Every child still running, so that a failure anywhere can stop them by PID. */
const live = new Set<ChildProcess>()

export function killLiveChildren(): void {
  for (const child of live) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue
    try {
      process.kill(child.pid, 'SIGKILL')
    } catch {
      // exited meanwhile
    }
  }
  live.clear()
}

/** Tracks a spawned child; the promise settles with the exit code (or signal name). */
export function track(child: ChildProcess): Promise<number | string> {
  live.add(child)
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child)
      resolve(code ?? signal ?? 'unknown')
    })
    child.once('error', (error) => {
      live.delete(child)
      resolve(error.message)
    })
  })
}

/** The harness installs nothing: it says what is missing and how to get it. */
export function checkTools(): void {
  const missing = (cmd: string, args: string[]) =>
    spawnSync(cmd, args, { stdio: 'ignore' }).error !== undefined
  if (missing('wrk', ['-v'])) {
    throw new HarnessError('wrk is not installed: apt-get install -y wrk')
  }
  if (missing('taskset', ['-V'])) {
    throw new HarnessError('taskset is not installed: apt-get install -y util-linux')
  }
  for (const core of [SERVER_CORE, LOAD_CORE]) {
    if (spawnSync('taskset', ['-c', core, 'true'], { stdio: 'ignore' }).status !== 0) {
      throw new HarnessError(`cannot pin to core ${core}: this harness needs at least 2 cores (0 and 1)`)
    }
  }
}

/** Moves this harness off the server's core; it only waits while a run is measured. */
export function pinSelfToLoadCore(): void {
  spawnSync('taskset', ['-a', '-p', '-c', LOAD_CORE, String(process.pid)], { stdio: 'ignore' })
}

export function clockTicksPerSecond(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
}

/** utime + stime of every thread of the process, in clock ticks (/proc/<pid>/stat fields 14, 15). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

/**
 * Busy ticks of one core from /proc/stat (user, nice, system, irq, softirq, steal), to
 * see how much of the server's core went to something else during a run.
 */
export function coreBusyTicks(core: string): number {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${core} `))
  if (line === undefined) throw new HarnessError(`no cpu${core} line in /proc/stat`)
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number)
  return [user, nice, system, irq, softirq, steal].reduce<number>((sum, n) => sum + (n ?? 0), 0)
}

/** Peak resident set size (VmHWM) in KiB. */
export function peakRssKiB(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (match === null) throw new HarnessError(`no VmHWM in /proc/${pid}/status`)
  return Number(match[1])
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer()
    probe.once('error', () => resolve(false))
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
  })
}

/** Inlet takes its port from the environment, so port 0 is no option: try random high ones. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000)
    if (await portIsFree(port)) return port
  }
  throw new HarnessError('no free port found on 127.0.0.1')
}

export interface Server {
  readonly name: string
  readonly pid: number
  readonly baseUrl: string
  readonly exited: Promise<number | string>
}

export interface ServerSpec {
  name: string
  /** Arguments to node. */
  args: string[]
  env: Record<string, string>
  port: number
  logFile: string
  cwd: string
}

/** Starts node on the server core, logs to a file (a pipe could fill up and stall it). */
export async function startServer(spec: ServerSpec, readyTimeoutMs = 20_000): Promise<Server> {
  const log = openSync(spec.logFile, 'a')
  let child: ChildProcess
  try {
    child = spawn('taskset', ['-c', SERVER_CORE, process.execPath, ...spec.args], {
      cwd: spec.cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...spec.env },
      stdio: ['ignore', log, log],
    })
  } finally {
    closeSync(log)
  }
  const exited = track(child)
  if (child.pid === undefined) throw new HarnessError(`${spec.name} did not start: ${await exited}`)
  // taskset execs node in place, so this PID is the server's.
  const server = { name: spec.name, pid: child.pid, baseUrl: `http://127.0.0.1:${spec.port}`, exited }
  await waitReady(server, readyTimeoutMs, spec.logFile)
  return server
}

async function waitReady(server: Server, timeoutMs: number, logFile: string): Promise<void> {
  let exitedWith: number | string | undefined
  void server.exited.then((code) => {
    exitedWith = code
  })
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (exitedWith !== undefined) {
      throw new HarnessError(`${server.name} exited (${exitedWith}) before it was ready; see ${logFile}`)
    }
    try {
      const response = await fetch(`${server.baseUrl}/health/ready`, { signal: AbortSignal.timeout(1000) })
      await response.arrayBuffer()
      if (response.ok) return
    } catch {
      // not listening yet
    }
    await sleep(50)
  }
  throw new HarnessError(`${server.name} was not ready within ${timeoutMs} ms; see ${logFile}`)
}

/** SIGTERM, then SIGKILL if it has not exited in time. Resolves with the exit code. */
export async function stopServer(server: Server, timeoutMs = 15_000): Promise<number | string> {
  try {
    process.kill(server.pid, 'SIGTERM')
  } catch {
    return server.exited // already gone
  }
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs)
  })
  const outcome = await Promise.race([server.exited, deadline])
  clearTimeout(timer)
  if (outcome !== 'timeout') return outcome
  process.kill(server.pid, 'SIGKILL')
  await server.exited
  throw new HarnessError(`${server.name} did not stop within ${timeoutMs} ms of SIGTERM; killed`)
}
