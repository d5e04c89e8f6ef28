import { OPTION_HELP, parseCommandLine } from '../args.js'
import type { Command } from '../command.js'

export const serve: Command = {
  name: 'serve',
  summary: 'run the service, exactly as npm start does',
  keepsRunning: true,
  usage: `Usage: inlet serve

Runs the service exactly as npm start does (the inlet executable gives node the same
flags on its first line), configured by the environment only (SPEC 1.1:
WEBHOOK_SECRET, DATABASE_URL, PORT, HOST, LOG_LEVEL, READ_API_TOKEN…; node --env-file=.env
reads a file of them). Logs are JSON lines on stdout; SIGTERM or SIGINT closes it gracefully.

Options:
${OPTION_HELP.help}`,

  async run(argv, context) {
    if (parseCommandLine(serve, argv, context, {}) === null) return
    // server.ts is the composition root: on import it checks Node.js, reads the environment,
    // opens the store, listens and owns the signals and the exit from then on.
    await import('../../server.js')
  },
}
