#!/usr/bin/env -S node --max-semi-space-size=8 --single-threaded-gc
import { type CliContext, CliError, type Command } from './command.js'
// The first line gives node the server's flags (SERVER_NODE_FLAGS in runtime.ts), so that
// `inlet serve` runs the server as npm start does; they cost the other commands nothing.
// The second composition root (beside server.ts): the only CLI module that reads the
// environment, installs signal handlers and exits. Arguments are parsed with node:util's
// parseArgs rather than commander: no dependency for eight small commands, and its strict
// mode refuses an unknown flag instead of ignoring it.
import { backup } from './commands/backup.js'
import { exportCommand } from './commands/export.js'
import { importCommand } from './commands/import.js'
import { send } from './commands/send.js'
import { serve } from './commands/serve.js'
import { sign } from './commands/sign.js'
import { stats } from './commands/stats.js'
import { tail } from './commands/tail.js'
import { vacuum } from './commands/vacuum.js'

const COMMANDS: readonly Command[] = [
  serve,
  sign,
  send,
  tail,
  exportCommand,
  importCommand,
  stats,
  backup,
  vacuum,
]

const OVERVIEW = `Usage: inlet <command> [options]

The command-line tool of Inlet, the inbox for signed messaging webhooks.

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(8)}${command.summary}`).join('\n')}

Run inlet <command> --help for a command's options. Server URL and secrets default to the
variables the server reads (INLET_URL or PORT, READ_API_TOKEN, WEBHOOK_SECRET, DATABASE_URL…).
`

/** Exits once what is written has reached stdout and stderr. */
function exit(code: number): void {
  let pending = 2
  const done = () => {
    pending -= 1
    if (pending === 0) process.exit(code)
  }
  process.stdout.write('', done)
  process.stderr.write('', done)
}

// `inlet tail | head -1`: the reader left; stop quietly, as Unix tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0)
  throw error
})

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const command = COMMANDS.find((candidate) => candidate.name === rest[0])
    process.stdout.write(name === 'help' && command !== undefined ? `${command.usage}\n` : OVERVIEW)
    return exit(0)
  }
  const command = COMMANDS.find((candidate) => candidate.name === name)
  if (command === undefined) {
    process.stderr.write(`inlet: unknown command ${JSON.stringify(name)} (inlet --help lists the commands)\n`)
    return exit(1)
  }
  const interrupted = new AbortController()
  if (command.interruptible) {
    // Once: a second Ctrl-C ends the process the usual way if the command is stuck.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => interrupted.abort())
  }
  const context: CliContext = {
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    signal: interrupted.signal,
  }
  try {
    await command.run(rest, context)
  } catch (error) {
    const reason =
      error instanceof CliError ? error.message : `unexpected error: ${(error as Error)?.message}`
    process.stderr.write(`inlet ${command.name}: ${reason.replace(/\s*\n\s*/g, ' ')}\n`)
    return exit(1)
  }
  if (!command.keepsRunning) exit(0)
}

await main(process.argv.slice(2))
