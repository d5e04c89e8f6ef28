import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { CONSOLE_BUILD } from '../../src/http/routes/console.js'

const ROOT = path.resolve(import.meta.dirname, '../..')

/**
 * The console as `npm run build` makes it. `npm test` builds it first (pretest); a test file
 * run on its own builds it here when there is none yet.
 */
export function ensureConsoleBuilt(): string {
  if (!existsSync(path.join(CONSOLE_BUILD, 'index.html'))) {
    execFileSync(
      process.execPath,
      [path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'console/vite.config.ts'],
      {
        cwd: ROOT,
        stdio: 'ignore',
      },
    )
  }
  return CONSOLE_BUILD
}
