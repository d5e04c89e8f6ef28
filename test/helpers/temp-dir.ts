import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

type TestContext = { after(fn: () => void | Promise<void>): void }

/**
 * A fresh temporary folder, removed when the test ends, after `cleanup` (closing what
 * uses the folder) has run.
 */
export function tempDir(t: TestContext, cleanup: () => void | Promise<void> = () => {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'inlet-test-'))
  t.after(async () => {
    await cleanup()
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}
