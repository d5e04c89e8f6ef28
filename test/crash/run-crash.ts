import { parseArgs } from 'node:util'
import { runCrashCycles } from './crash-harness.js'

// `npm run test:crash [-- --cycles N] [--concurrency N] [--traffic webhook|whatsapp]`: the long crash run.

function positiveInt(name: string, raw: string): number {
  const n = Number(raw)
  if (!/^[0-9]+$/.test(raw) || n < 1) {
    console.error(`--${name} must be a positive integer (got ${JSON.stringify(raw)})`)
    process.exit(2)
  }
  return n
}

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '32' },
    traffic: { type: 'string', default: 'webhook' },
  },
})
if (values.traffic !== 'webhook' && values.traffic !== 'whatsapp') {
  console.error(`--traffic must be webhook or whatsapp (got ${JSON.stringify(values.traffic)})`)
  process.exit(2)
}
const traffic = values.traffic
const cycles = positiveInt('cycles', values.cycles)
const concurrency = positiveInt('concurrency', values.concurrency)

const started = Date.now()
try {
  const result = await runCrashCycles({ cycles, concurrency, traffic, log: (line) => console.log(line) })
  console.log(
    `crash test passed: ${result.cycles} SIGKILL cycles, ${result.acknowledged} acknowledged messages ` +
      `checked present and unchanged (${result.duplicateAcks} duplicate 200s left them intact), ` +
      `${result.checked} rows verified, integrity ok; ${result.inFlightFailures} requests were in flight ` +
      `at the kills (${((Date.now() - started) / 1000).toFixed(1)} s)`,
  )
} catch (error) {
  console.error(`crash test FAILED: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}
