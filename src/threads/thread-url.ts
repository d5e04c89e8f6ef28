import path from 'node:path'
import { fileURLToPath } from 'node:url'

// This module's own extension: `.ts` when running from source (the test runner loads tsx,
// and worker threads inherit its `--import`), `.js` when running the build in dist/.
const EXTENSION = path.extname(fileURLToPath(import.meta.url))

/** The URL of a thread entry module beside `base` (the caller's import.meta.url), from source or from the build alike. */
export function threadUrl(base: string, name: string): URL {
  return new URL(`./${name}${EXTENSION}`, base)
}
