import { buildApp } from './app.js'
import { ConfigError, loadConfig, redactUrl } from './config.js'
import { createLogger, stdoutDestination } from './observability/logger.js'
import { REQUIRED_NODE_MAJOR, unsupportedNode } from './runtime.js'
import { openStore } from './storage/open-store.js'

// The composition root: the only module that reads the environment, listens or exits.

const SHUTDOWN_DEADLINE_MS = 10_000
const destination = stdoutDestination()

function exitWith(code: number): never {
  destination.flushSync()
  process.exit(code)
}

async function main(): Promise<void> {
  // Before anything loads a native addon: on an older Node.js it would crash, not explain.
  const unsupported = unsupportedNode(process.versions.node)
  if (unsupported !== null) {
    createLogger('info', destination).fatal(
      { node_version: process.versions.node, required: `>=${REQUIRED_NODE_MAJOR}` },
      unsupported,
    )
    exitWith(1)
  }
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig(process.env)
  } catch (error) {
    const logger = createLogger('info', destination)
    if (!(error instanceof ConfigError)) throw error
    logger.fatal({ problems: error.problems }, error.message)
    exitWith(1)
  }
  const logger = createLogger(config.logLevel, destination)
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception')
    exitWith(1)
  })
  process.on('unhandledRejection', (error) => {
    logger.fatal({ err: error }, 'unhandled promise rejection')
    exitWith(1)
  })

  if (config.webhookSecret === null) {
    logger.error('WEBHOOK_SECRET is not set: POST /webhook answers 503 and /health/ready fails until it is')
  }
  if (config.readApiToken === null) {
    logger.warn('READ_API_TOKEN is not set: /messages and /stats answer anyone who can reach this port')
  }
  const database = config.database.kind === 'sqlite' ? config.database.file : redactUrl(config.database.url)
  let store: Awaited<ReturnType<typeof openStore>>
  try {
    store = await openStore(config, logger)
  } catch (error) {
    logger.fatal({ err: error, database }, 'cannot open the database')
    exitWith(1)
  }
  logger.info({ database: config.database.kind, location: database }, 'database ready')

  const app = buildApp({ config, store, logger })
  await app.listen({ port: config.port, host: config.host })

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    const deadline = setTimeout(() => {
      logger.error({ deadline_ms: SHUTDOWN_DEADLINE_MS }, 'shutdown deadline passed; exiting')
      exitWith(1)
    }, SHUTDOWN_DEADLINE_MS)
    deadline.unref()
    // A keep-alive connection becomes idle once its in-flight request is answered; close
    // those as they appear, or app.close() would wait for clients to hang up.
    const closeIdle = setInterval(() => app.server.closeIdleConnections(), 50)
    closeIdle.unref()
    try {
      await app.close() // stops accepting, lets in-flight requests finish
      await store.close() // commits what is queued, closes the database
      logger.info('stopped')
      exitWith(0)
    } catch (error) {
      logger.fatal({ err: error }, 'shutdown failed')
      exitWith(1)
    }
  }
  process.once('SIGTERM', () => void shutdown('SIGTERM'))
  process.once('SIGINT', () => void shutdown('SIGINT'))
}

await main()
