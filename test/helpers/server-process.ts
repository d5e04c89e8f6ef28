import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from './test-app.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

export interface ServerProcess {
  child: ChildProcess
  port: number
  /** Everything written to stdout and stderr so far, split in lines. */
  output(): string[]
  exited: Promise<number | null>
}

/**
 * Runs src/server.ts as the real process would run, with only the given environment, on
 * this test's Node.js unless `node` names another executable.
 */
export async function startServer(
  env: Record<string, string>,
  node: string = process.execPath,
): Promise<ServerProcess> {
  const port = Number(env.PORT ?? (await freePort()))
  const child = spawn(node, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let buffer = ''
  child.stdout?.on('data', (chunk) => {
    buffer += chunk
  })
  child.stderr?.on('data', (chunk) => {
    buffer += chunk
  })
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  return { child, port, output: () => buffer.split('\n').filter((line) => line !== ''), exited }
}

/** Polls a URL until it answers (any status), or fails after the deadline. */
export async function waitForHttp(url: string, deadlineMs = 15_000): Promise<Response> {
  const until = Date.now() + deadlineMs
  for (;;) {
    try {
      return await fetch(url)
    } catch (error) {
      if (Date.now() > until) throw error
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

/**
 * The real process on a SQLite file in a fresh temporary folder; when the test ends the
 * process is killed before the folder is removed.
 */
export async function startTestServer(
  t: Parameters<typeof tempDir>[0],
  env: Record<string, string> = { WEBHOOK_SECRET: 'testsecret' },
): Promise<ServerProcess & { base: string; file: string; url: string }> {
  let server: ServerProcess | undefined
  const dir = tempDir(t, async () => {
    server?.child.kill('SIGKILL')
    await server?.exited
  })
  const file = path.join(dir, 'app.db')
  const url = `sqlite:///${file}`
  server = await startServer({ DATABASE_URL: url, ...env })
  return { ...server, base: `http://127.0.0.1:${server.port}`, file, url }
}
