// The console in a real browser (Debian's Chromium through playwright-core) against the real
// server process on a temporary SQLite file: every screen, the token prompt, search, a view
// restored from its URL, a message arriving live, a WhatsApp message's statuses, the charts'
// numbers, deleting, deliveries and retry, the keyboard and a 360 px wide screen.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { BrowserContext, Page } from 'playwright-core'
import { signWebhookBody } from '../../src/sources/webhook/signature.js'
import { signWhatsAppBody } from '../../src/sources/whatsapp/signature.js'
import { BROWSER_SKIP_REASON, launchBrowser, screenshot } from '../helpers/browser.js'
import { ensureConsoleBuilt } from '../helpers/console-build.js'
import { FORWARD_SECRET, startReceiver } from '../helpers/receiver.js'
import { startTestServer, waitForHttp } from '../helpers/server-process.js'
import { SECRET } from '../helpers/test-app.js'
import { APP_SECRET, envelope, statusItem, VERIFY_TOKEN } from '../helpers/whatsapp.js'

const READ = 'console-read-token'
const ADMIN = 'console-admin-token'

if (BROWSER_SKIP_REASON !== undefined)
  process.stdout.write(`# SKIPPED the console browser tests: ${BROWSER_SKIP_REASON}\n`)

async function post(base: string, route: string, body: unknown, signature: Record<string, string>) {
  const response = await fetch(`${base}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signature },
    body: JSON.stringify(body),
  })
  assert.equal(response.status, 200, `${route}: ${await response.text()}`)
}

function sendWebhook(base: string, message: Record<string, unknown>) {
  const raw = Buffer.from(JSON.stringify(message))
  return post(base, '/webhook', message, { 'x-signature': signWebhookBody(SECRET, raw) })
}

function sendWhatsApp(base: string, body: unknown) {
  const raw = Buffer.from(JSON.stringify(body))
  return post(base, '/webhooks/whatsapp', body, { 'x-hub-signature-256': signWhatsAppBody(APP_SECRET, raw) })
}

async function api<T>(base: string, path: string): Promise<T> {
  const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${READ}` } })
  assert.equal(response.status, 200, path)
  return (await response.json()) as T
}

const SENDERS = ['+4915112345678', '+447700900123', '+14155550142', '+919812345678']
const TEXTS = [
  'Hi! Is the shop open on Sunday?',
  'Please send the invoice for order 1042',
  'Thanks, received it. Très bien!',
  'Can I change my delivery address?',
  'The invoice total looks wrong',
  'Where is my parcel? Tracking says delivered',
  'Do you ship to Austria?',
]

/** 24 messages from 4 senders (9, 7, 5, 3) over three days; 7 of them mention an invoice. */
function seedMessages(): Record<string, unknown>[] {
  const messages: Record<string, unknown>[] = []
  const perSender = [9, 7, 5, 3]
  let n = 0
  perSender.forEach((count, s) => {
    for (let i = 0; i < count; i++) {
      n++
      const day = 28 + (n % 3)
      messages.push({
        message_id: `seed-${String(n).padStart(2, '0')}`,
        from: SENDERS[s],
        to: '+4930123456',
        ts: `2026-11-${day}T${String(8 + (n % 10)).padStart(2, '0')}:${String(n).padStart(2, '0')}:00Z`,
        text: TEXTS[n % TEXTS.length],
      })
    }
  })
  return messages
}

const WAMID = 'wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdGRkY5RjM2'

async function seedWhatsApp(base: string) {
  await sendWhatsApp(
    base,
    envelope({
      contacts: [{ profile: { name: 'Maria Lopez' }, wa_id: '16505551234' }],
      messages: [
        {
          from: '16505551234',
          id: WAMID,
          timestamp: String(Date.UTC(2026, 10, 30, 18, 5) / 1000),
          type: 'text',
          text: { body: 'Has my order shipped yet?' },
        },
      ],
    }),
  )
  // Out of order on purpose: the current status only moves forward.
  const t0 = Date.UTC(2026, 10, 30, 18, 6) / 1000
  await sendWhatsApp(base, envelope({ statuses: [statusItem(WAMID, 'read', String(t0 + 120))] }))
  await sendWhatsApp(base, envelope({ statuses: [statusItem(WAMID, 'sent', String(t0))] }))
  await sendWhatsApp(base, envelope({ statuses: [statusItem(WAMID, 'delivered', String(t0 + 30))] }))
}

/** A browser context whose tab already holds the read token (as after the prompt). */
async function signedIn(context: BrowserContext, admin = false): Promise<void> {
  await context.addInitScript(
    ([read, adminToken]) => {
      sessionStorage.setItem('inlet.readToken', read as string)
      if (adminToken !== null) sessionStorage.setItem('inlet.adminToken', adminToken as string)
    },
    [READ, admin ? ADMIN : null],
  )
}

/** Each mark of a chart as [its label or bucket, its number], as the SVG carries them. */
const chartFigures = (page: Page, marks: string, labelAttribute: string) =>
  page
    .locator(marks)
    .evaluateAll(
      (elements, attribute) =>
        elements.map(
          (e) => [e.getAttribute(attribute), Number(e.getAttribute('data-value'))] as [string, number],
        ),
      labelAttribute,
    )

const totalOf = (page: Page) => page.locator('p.total')
const rowIds = (page: Page) =>
  page.locator('ul.messages a.row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')))

test('the console in a real browser', { skip: BROWSER_SKIP_REASON, timeout: 180_000 }, async (t) => {
  ensureConsoleBuilt()
  const server = await startTestServer(t, {
    WEBHOOK_SECRET: SECRET,
    READ_API_TOKEN: READ,
    ADMIN_TOKEN: ADMIN,
    WHATSAPP_APP_SECRET: APP_SECRET,
    WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN,
  })
  const base = server.base
  await waitForHttp(`${base}/health/ready`)
  const seeded = seedMessages()
  for (const message of seeded) await sendWebhook(base, message)
  await seedWhatsApp(base)
  const browser = await launchBrowser(t)
  const errors: string[] = []
  const newPage = async (
    options: { token?: boolean; admin?: boolean; width?: number; colorScheme?: 'light' | 'dark' } = {},
  ) => {
    const context = await browser.newContext({
      viewport:
        options.width === undefined ? { width: 1280, height: 960 } : { width: options.width, height: 760 },
      colorScheme: options.colorScheme ?? 'light',
    })
    t.after(() => context.close())
    // tsx names functions through a `__name` helper, which functions sent to page.evaluate call.
    await context.addInitScript('globalThis.__name = (target) => target')
    if (options.token !== false) await signedIn(context, options.admin)
    const page = await context.newPage()
    // Any CSP violation or script error fails the test at the end.
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 401|status of 404/.test(message.text()))
        errors.push(message.text())
    })
    page.on('pageerror', (error) => errors.push(String(error)))
    return page
  }

  await t.test('asks for the read token, refuses a wrong one, and opens with the right one', async () => {
    const page = await newPage({ token: false })
    await page.goto(`${base}/console`)
    const input = page.getByLabel('Read token')
    await input.waitFor()
    await screenshot(page, 'token-prompt')
    await input.fill('not-the-token')
    await page.getByRole('button', { name: 'Open the console' }).click()
    await page.getByRole('alert').filter({ hasText: 'That token was refused' }).waitFor()
    assert.equal(await page.evaluate(() => sessionStorage.getItem('inlet.readToken')), null)
    await input.fill(READ)
    await page.getByRole('button', { name: 'Open the console' }).click()
    await page.getByText('25 messages').waitFor()
    assert.equal(await page.evaluate(() => sessionStorage.getItem('inlet.readToken')), READ)
    // Signing out forgets it at once: the prompt is back, and a reload asks again.
    await page.getByText('Tokens', { exact: true }).click()
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('Read token').waitFor()
    assert.equal(await page.evaluate(() => sessionStorage.getItem('inlet.readToken')), null)
    await page.reload()
    await page.getByLabel('Read token').waitFor()
  })

  await t.test(
    'the inbox lists newest first; the search narrows the list and the total, and the URL follows',
    async () => {
      const page = await newPage()
      await page.goto(`${base}/console`)
      await page.getByText('25 messages').waitFor()
      const newest = await api<{ data: { message_id: string }[] }>(base, '/messages?limit=25')
      assert.deepEqual(await rowIds(page), newest.data.map((m) => m.message_id).reverse())
      await screenshot(page, 'inbox')

      await page.getByLabel('Search text').fill('INVOICE')
      const expected = await api<{ total: number; data: { message_id: string }[] }>(
        base,
        '/messages?q=INVOICE',
      )
      assert.equal(expected.total, 7)
      await page.getByText('7 messages').waitFor()
      assert.deepEqual(await rowIds(page), expected.data.map((m) => m.message_id).reverse())
      assert.equal(new URL(page.url()).searchParams.get('q'), 'INVOICE')
      await screenshot(page, 'inbox-search')

      await page.getByLabel('Order').selectOption('oldest')
      await page.waitForURL(/order=oldest/)
      await page.waitForFunction(
        (first) => document.querySelector('ul.messages a.row')?.getAttribute('data-id') === first,
        expected.data[0]?.message_id,
      )
      assert.deepEqual(
        await rowIds(page),
        expected.data.map((m) => m.message_id),
      )
    },
  )

  await t.test('a view opened from its URL has its filters back', async () => {
    const page = await newPage()
    await page.goto(`${base}/console?from=%2B447700900123&since=2026-11-29T00:00:00Z`)
    const expected = await api<{ total: number; data: { message_id: string }[] }>(
      base,
      '/messages?from=%2B447700900123&since=2026-11-29T00:00:00Z',
    )
    assert.ok(expected.total > 0 && expected.total < 7)
    await totalOf(page)
      .filter({ hasText: `${expected.total} message` })
      .waitFor()
    assert.equal(await page.getByLabel('Sender').inputValue(), '+447700900123')
    // Chromium shows whole minutes without the seconds.
    assert.match(await page.getByLabel('Since (UTC)').inputValue(), /^2026-11-29T00:00(:00)?$/)
    assert.deepEqual(await rowIds(page), expected.data.map((m) => m.message_id).reverse())
  })

  await t.test('a message sent while the inbox is open appears at the top, without a reload', async () => {
    const page = await newPage()
    await page.goto(`${base}/console`)
    await page.getByText('25 messages').waitFor()
    await page.locator('output.live[data-state="live"]').waitFor()
    await page.evaluate(() => {
      ;(window as unknown as { marker: boolean }).marker = true
    })
    await sendWebhook(base, {
      message_id: 'live-1',
      from: '+4915112345678',
      to: '+4930123456',
      ts: '2026-12-01T09:00:00Z',
      text: 'Sent while you were watching',
    })
    await page.getByText('26 messages').waitFor()
    assert.equal((await rowIds(page))[0], 'live-1')
    await page.locator('li.fresh', { hasText: 'Sent while you were watching' }).waitFor()
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: boolean }).marker), true)
  })

  await t.test(
    'the detail pane shows a WhatsApp message, its payload and its statuses in order',
    async () => {
      const page = await newPage()
      await page.goto(`${base}/console/messages/${encodeURIComponent(WAMID)}`)
      const pane = page.locator('section.detail')
      await pane.locator('blockquote.text', { hasText: 'Has my order shipped yet?' }).waitFor()
      for (const text of [
        'Maria Lopez',
        'whatsapp',
        '+16505551234',
        '+15550783881',
        '2026-11-30T18:05:00Z',
      ]) {
        await pane.getByText(text, { exact: true }).first().waitFor()
      }
      const history = await pane.locator('ol.timeline li .status').allTextContents()
      assert.deepEqual(history, ['sent', 'delivered', 'read'])
      assert.match(
        (await pane.locator('ol.timeline li').first().textContent()) ?? '',
        /2026-11-30 18:06:00 UTC/,
      )
      const payload = JSON.parse((await pane.locator('.payload pre').textContent()) ?? '')
      assert.deepEqual(payload.text, { body: 'Has my order shipped yet?' })
      assert.equal(payload.id, WAMID)
      await screenshot(page, 'message')
    },
  )

  await t.test(
    'the stats page draws the top senders and messages per day with the numbers /stats gives',
    async () => {
      const page = await newPage()
      await page.goto(`${base}/console/stats`)
      await page.locator('.bar-chart').waitFor()
      const stats = await api<{
        total_messages: number
        messages_per_sender: { from: string; count: number }[]
      }>(base, '/stats')
      assert.equal(await page.locator('[data-stat="total"]').textContent(), String(stats.total_messages))
      const bars = (await chartFigures(page, '.bar-chart g.bar', 'data-label')).map(([from, count]) => ({
        from,
        count,
      }))
      assert.deepEqual(bars, stats.messages_per_sender)
      assert.deepEqual(
        bars.map((b) => b.count),
        [10, 7, 5, 3, 1],
      )
      // Bar lengths follow the counts.
      const widths = await page
        .locator('.bar-chart rect.bar-rect')
        .evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('width'))))
      for (let i = 1; i < widths.length; i++)
        assert.ok((widths[i - 1] ?? 0) > (widths[i] ?? 0), `bar ${i} is shorter`)
      const timeline = await api<{ data: { start: string; count: number }[] }>(
        base,
        '/stats/timeline?bucket=day&buckets=30',
      )
      const dots = (await chartFigures(page, '.line-chart circle.dot', 'data-start')).map(
        ([start, count]) => ({
          start,
          count,
        }),
      )
      assert.deepEqual(dots, timeline.data)
      assert.deepEqual(
        dots.slice(-4).map((d) => d.count),
        [8, 8, 9, 1],
      )
      await screenshot(page, 'stats')

      await page.getByRole('link', { name: 'Per hour' }).click()
      await page.waitForURL(/bucket=hour/)
      const hours = await api<{ data: { start: string; count: number }[] }>(
        base,
        '/stats/timeline?bucket=hour&buckets=48',
      )
      await page.waitForFunction(
        (n) => document.querySelectorAll('.line-chart circle.dot').length === n,
        hours.data.length,
      )
      const hourTotal = hours.data.reduce((sum, p) => sum + p.count, 0)
      assert.equal(
        hourTotal,
        await page
          .locator('.line-chart circle.dot')
          .evaluateAll((cs) => cs.reduce((s, c) => s + Number(c.getAttribute('data-value')), 0)),
      )

      // New messages move the figures without a reload.
      await page.locator('output.live[data-state="live"]').waitFor()
      await sendWebhook(base, {
        message_id: 'live-2',
        from: '+919812345678',
        to: '+4930123456',
        ts: '2026-12-01T09:30:00Z',
        text: 'One more',
      })
      await page.locator('[data-stat="total"]', { hasText: String(stats.total_messages + 1) }).waitFor()
    },
  )

  await t.test('the keyboard moves through the list, opens a message and goes back', async () => {
    const page = await newPage()
    await page.goto(`${base}/console`)
    await page.getByText('27 messages').waitFor()
    const ids = await rowIds(page)
    await page.locator('ul.messages a.row').first().focus()
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('ArrowDown')
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-id')), ids[2])
    await page.keyboard.press('Enter')
    await page.waitForURL(new RegExp(`/console/messages/${ids[2]}`))
    await page.locator('section.detail blockquote.text').waitFor()
    await page.waitForFunction(() => document.activeElement?.id === 'detail-title')
    await page.keyboard.press('Escape')
    await page.waitForURL(`${base}/console`)
    // Every control has a label.
    const unlabelled = await page
      .locator('input, select, button')
      .evaluateAll(
        (els) =>
          els.filter(
            (el) =>
              (el as HTMLInputElement).labels?.length === 0 &&
              !el.textContent?.trim() &&
              !el.getAttribute('aria-label'),
          ).length,
      )
    assert.equal(unlabelled, 0)
  })

  await t.test('every text on every screen meets WCAG AA contrast (4.5:1), light and dark', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const page = await newPage({ colorScheme, admin: true })
      for (const path of ['/console', `/console/messages/${encodeURIComponent(WAMID)}`, '/console/stats']) {
        await page.goto(`${base}${path}`)
        await page.locator('output.live[data-state="live"]').waitFor()
        await page.locator('ul.messages, .bar-chart').first().waitFor()
        // One live message, so the highlighted row is checked too.
        if (path === '/console' && colorScheme === 'light') {
          await sendWebhook(base, {
            message_id: 'live-contrast',
            from: '+1555',
            to: '+2',
            ts: '2026-12-01T09:40:00Z',
            text: 'fresh',
          })
          await page.locator('li.fresh').waitFor()
        }
        assert.deepEqual(await page.evaluate(lowContrastTexts), [], `${colorScheme} ${path}`)
      }
      if (colorScheme === 'dark') await screenshot(page, 'stats-dark')
    }
  })

  await t.test('with the admin token a message can be deleted; the inbox and the API agree', async () => {
    const page = await newPage({ admin: true })
    await page.goto(`${base}/console/messages/live-1`)
    await page.getByText('28 messages').waitFor()
    await page.getByRole('button', { name: 'Delete message' }).click()
    await page.getByRole('button', { name: 'Yes, delete' }).click()
    await page.waitForURL(`${base}/console`)
    await page.getByText('27 messages').waitFor()
    assert.ok(!(await rowIds(page)).includes('live-1'))
    const gone = await fetch(`${base}/messages/live-1`, { headers: { authorization: `Bearer ${READ}` } })
    assert.equal(gone.status, 404)
  })

  await t.test('at 360 px wide the inbox and a message fit the screen', async () => {
    const page = await newPage({ width: 360 })
    await page.goto(`${base}/console`)
    await page.getByText('27 messages').waitFor()
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    assert.equal(await overflow(), 0)
    await page.locator('output.live[data-state="live"]').waitFor()
    await screenshot(page, 'inbox-360px')
    await page.locator('ul.messages a.row').first().click()
    await page.locator('section.detail blockquote.text').waitFor()
    assert.equal(await page.locator('section.inbox').isVisible(), false)
    assert.equal(await overflow(), 0)
  })

  assert.deepEqual(errors, [])
})

test('the deliveries screen lists a failed delivery with its last answer and retries it', {
  skip: BROWSER_SKIP_REASON,
  timeout: 120_000,
}, async (t) => {
  ensureConsoleBuilt()
  let answers = 0
  const receiver = await startReceiver(t, () => (++answers <= 2 ? { status: 500 } : { status: 200 }))
  const server = await startTestServer(t, {
    WEBHOOK_SECRET: SECRET,
    ADMIN_TOKEN: ADMIN,
    FORWARD_URL: receiver.url,
    FORWARD_SECRET,
    FORWARD_RETRY_SCHEDULE: '0',
  })
  await waitForHttp(`${server.base}/health/ready`)
  await sendWebhook(server.base, {
    message_id: 'fwd-1',
    from: '+1555',
    to: '+2',
    ts: '2026-12-01T10:00:00Z',
    text: 'forward me',
  })
  // Two attempts (the first and the one retry) answered 500: failed.
  for (;;) {
    const failed = (await (await fetch(`${server.base}/deliveries?status=failed`)).json()) as {
      data: unknown[]
    }
    if (failed.data.length === 1) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const browser = await launchBrowser(t)
  const context = await browser.newContext({ viewport: { width: 1280, height: 700 } })
  await context.addInitScript((admin) => sessionStorage.setItem('inlet.adminToken', admin), ADMIN)
  const page = await context.newPage()
  await page.goto(`${server.base}/console`)
  await page.getByRole('link', { name: 'Deliveries' }).click()
  await page.getByText('No pending deliveries.').waitFor()
  await page.getByRole('link', { name: 'Failed' }).click()
  const row = page.locator('table.delivery-table tbody tr')
  await row.getByText('HTTP 500').waitFor()
  assert.equal(await row.locator('td').nth(3).textContent(), '2')
  assert.equal(await row.locator('td.destination').textContent(), receiver.url)
  await screenshot(page, 'deliveries')
  await row.getByRole('button', { name: /Retry/ }).click()
  await page.getByRole('status').filter({ hasText: 'is scheduled again' }).waitFor()
  await page.getByText('No failed deliveries.').waitFor()
  for (;;) {
    const delivered = (await (await fetch(`${server.base}/deliveries?status=delivered`)).json()) as {
      data: unknown[]
    }
    if (delivered.data.length === 1) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
})

/**
 * Runs in the page: every visible text (outside charts and screen-reader-only tables) whose
 * colour against its nearest opaque background is below 4.5:1, as "ratio text".
 */
function lowContrastTexts(): string[] {
  type Rgb = { r: number; g: number; b: number; a: number }
  const parse = (css: string): Rgb | null => {
    const m = /rgba?\(([^)]+)\)/.exec(css)
    if (m === null) return null
    const [r = 0, g = 0, b = 0, a = 1] = (m[1] ?? '')
      .split(/[\s,/]+/)
      .filter(Boolean)
      .map(Number)
    return { r, g, b, a }
  }
  const channel = (c: number) => {
    const v = c / 255
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4
  }
  const luminance = (c: Rgb) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)
  const background = (element: Element | null): Rgb => {
    for (let e = element; e !== null; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor)
      if (c !== null && c.a > 0) return c
    }
    return { r: 255, g: 255, b: 255, a: 1 }
  }
  const failures: string[] = []
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
  while (walker.nextNode()) {
    const node = walker.currentNode
    const element = node.parentElement
    if (element === null || node.textContent?.trim() === '') continue
    if (element.closest('.visually-hidden, svg, noscript, button:disabled') !== null) continue
    if (element.getClientRects().length === 0) continue
    const fg = parse(getComputedStyle(element).color)
    if (fg === null) continue
    const [light, dark] = [luminance(fg), luminance(background(element))].sort((x, y) => y - x) as [
      number,
      number,
    ]
    const ratio = (light + 0.05) / (dark + 0.05)
    if (ratio < 4.5) failures.push(`${ratio.toFixed(2)} ${node.textContent?.trim().slice(0, 40)}`)
  }
  return failures
}
