/**
 * The oldest Node.js major Inlet runs on. better-sqlite3 13 is a Node-API addon that needs
 * Node.js 22; its predecessor (12) aborts the process on Node.js 24, and Node.js 20 is past
 * its end of life. Checked by each entry point before any native addon is loaded.
 */
export const REQUIRED_NODE_MAJOR = 22

/**
 * The Node.js flags the server runs with (npm start, the image's CMD, inlet serve and the
 * benchmarks; package.json and the Dockerfile spell them out too). A smaller young
 * generation keeps peak RSS down. Single-threaded GC runs each thread's collections on that
 * thread: V8's GC helper threads run at normal priority, so the collections of the reader
 * threads (idle priority) took CPU from the thread answering webhooks (measured by npm run
 * bench:mixed on one core, a client exporting 1M rows: webhook p99 35 ms with the helpers,
 * 11-20 ms without; the other runs unchanged).
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=8', '--single-threaded-gc'] as const

/** Why `version` (such as process.versions.node) cannot run Inlet, or null when it can. */
export function unsupportedNode(version: string): string | null {
  const major = Number(version.split('.')[0])
  return Number.isInteger(major) && major >= REQUIRED_NODE_MAJOR
    ? null
    : `Inlet needs Node.js ${REQUIRED_NODE_MAJOR} or newer (found ${version})`
}
