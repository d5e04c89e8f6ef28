/**
 * The oldest Node.js major Inlet runs on. better-sqlite3 13 is a Node-API addon that needs
 * Node.js 22; its predecessor (12) aborts the process on Node.js 24, and Node.js 20 is past
 * its end of life. Checked by each entry point before any native addon is loaded.
 */
export const REQUIRED_NODE_MAJOR = 22

/** Why `version` (such as process.versions.node) cannot run Inlet, or null when it can. */
export function unsupportedNode(version: string): string | null {
  const major = Number(version.split('.')[0])
  return Number.isInteger(major) && major >= REQUIRED_NODE_MAJOR
    ? null
    : `Inlet needs Node.js ${REQUIRED_NODE_MAJOR} or newer (found ${version})`
}
