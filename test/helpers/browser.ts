import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { type Browser, chromium, type Page } from 'playwright-core'

/** Debian's Chromium; `.ci/run` installs it when it is missing. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Why the browser tests cannot run here, or undefined when they can. */
export const BROWSER_SKIP_REASON = existsSync(CHROMIUM)
  ? undefined
  : `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH); .ci/run installs it`

/** Where screenshots go: test-results/console, or INLET_SCREENSHOT_DIR (the README's come from docs/). */
export const SCREENSHOT_DIR = path.resolve(
  import.meta.dirname,
  '../..',
  process.env.INLET_SCREENSHOT_DIR ?? 'test-results/console',
)

/** Headless Chromium as root, with nothing reaching out to the network on its own. */
export async function launchBrowser(t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-dev-shm-usage',
    ],
  })
  t.after(() => browser.close())
  return browser
}

/** Saves what the window shows (not the whole scrolled page) as `<name>.png` in SCREENSHOT_DIR (a test artefact). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) })
}
