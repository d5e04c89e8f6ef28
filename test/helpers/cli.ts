import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface CliProcess {
  child: ChildProcess
  /** What it has written to stdout so far. */
  stdout(): string
  /** Settles when it exits, with everything it wrote. */
  result: Promise<CliResult>
}

/**
 * `inlet <args>` as a real process, from source, with only PATH and `env` in its
 * environment (a developer's WEBHOOK_SECRET or DATABASE_URL must not leak into a test).
 */
export function spawnCli(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string | Buffer } = {},
): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/inlet.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  child.stdin?.end(options.stdin ?? '')
  const result = once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }))
  return { child, stdout: () => stdout, result }
}

/** Runs `inlet <args>` to its end. */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string | Buffer } = {},
): Promise<CliResult> {
  return spawnCli(args, options).result
}

/** The lines of a command's stderr that are its reports (`inlet <command>: …`), not progress. */
export function reports(stderr: string, command: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith(`inlet ${command}: `))
}
