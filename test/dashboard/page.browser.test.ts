/**
 * The dashboard page in a real headless Chromium (Debian `chromium`, driven by playwright-core),
 * served with a strict CSP. Screenshots go to test-results/screenshots/.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Point } from '../../src/protocol.js';
import { hasSystemBinary } from '../system-deps.js';
import { type FixtureServer, HOSTILE_ALERT, PENDING_ALERT, startFixtureServer } from './fixture-server.js';

const CHROMIUM = '/usr/bin/chromium';
const SKIP_REASON = 'chromium not installed: apt-get install -y chromium';
const haveChromium = hasSystemBinary(CHROMIUM, 'chromium');
const SHOTS = path.resolve('test-results/screenshots');
const TOKEN = 'fixture-token';
const WAIT = { timeout: 10_000 };

interface Dashboard {
  pointCount(chartId: string, label?: string): number;
  plottedCount(chartId: string): number;
  lastPoint(chartId: string, label: string): Point | null;
  span(chartId: string, label: string): [number, number] | null;
  status(): string;
  range(): string | number;
  theme(): string;
  chartIds(): string[];
  highlighted(): string[];
}
// The browser globals the page.evaluate callbacks use (the project compiles without the DOM lib).
interface PageElement {
  className: string;
  tagName: string;
  getBoundingClientRect(): { right: number; width: number };
}
declare const window: { __dashboard: Dashboard; __xss?: unknown };
declare const document: {
  documentElement: { dataset: Record<string, string | undefined>; scrollWidth: number };
  body: { scrollWidth: number };
  querySelectorAll(selector: string): Iterable<PageElement>;
};
declare function getComputedStyle(el: unknown): { backgroundColor: string; borderTopColor: string };

interface Opened {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors, in order. */
  errors: string[];
}

describe.skipIf(!haveChromium)(`dashboard page in headless Chromium${haveChromium ? '' : ` (skipped: ${SKIP_REASON})`}`, () => {
  let browser: Browser;
  let server: FixtureServer;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startFixtureServer({ token: TOKEN });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await server?.close();
  });

  async function open(viewport = { width: 1280, height: 800 }, query = `?token=${TOKEN}`): Promise<Opened> {
    const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    contexts.push(context);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    await page.goto(`${server.url}/${query}`);
    return { context, page, errors };
  }

  /** Waits until every chart has points and the feed is live. */
  async function ready(page: Page) {
    await page.waitForFunction(() => window.__dashboard?.status() === 'live', undefined, WAIT);
    await page.waitForFunction(() => window.__dashboard.chartIds().length === 5 && window.__dashboard.chartIds().every((id) => window.__dashboard.pointCount(id) > 0), undefined, WAIT);
  }

  it('loads with no console errors and plots the live frames as they arrive', async () => {
    const { page, errors, context } = await open();
    await ready(page);
    expect(await page.textContent('#title')).toBe('erlmcp v3 Performance Dashboard');
    expect(await page.$$eval('.chart-card', (cards) => cards.map((c) => c.getAttribute('data-chart')))).toEqual(['latency', 'throughput', 'errors', 'resources', 'status_mix']);

    // The newest point moves forward, and it is the value the server sent at that instant.
    const first = await page.evaluate(() => window.__dashboard.lastPoint('latency', 'p99'));
    await page.waitForFunction((t) => (window.__dashboard.lastPoint('latency', 'p99')?.[0] ?? 0) > t + 3 * 200, first![0], WAIT);
    const last = (await page.evaluate(() => window.__dashboard.lastPoint('latency', 'p99')))!;
    const frame = server.sent.find((f) => f.at === last[0]);
    expect(frame, 'the page shows a point the server sent').toBeDefined();
    expect(last[1]).toBe(frame!.charts.latency.p99[1]);
    // uPlot holds the points (line and bar), the dials and the donut show values.
    for (const id of ['latency', 'throughput', 'errors']) expect(await page.evaluate((c) => window.__dashboard.plottedCount(c), id)).toBeGreaterThan(3);
    expect(await page.evaluate(() => window.__dashboard.plottedCount('resources'))).toBe(2);
    expect(await page.evaluate(() => window.__dashboard.pointCount('latency', 'p50'))).toBeLessThanOrEqual(50);
    expect(await page.textContent('[data-chart="resources"] .gauge-text')).toMatch(/^\d+(\.\d+)?%$/);
    expect(await page.$$eval('[data-chart="latency"] .legend-value', (v) => v.map((n) => n.textContent))).toEqual([expect.stringMatching(/ ms$/), expect.stringMatching(/ ms$/), expect.stringMatching(/ ms$/)]);
    expect(await page.textContent('#status')).toContain('Live');

    // Scores and SLA panels.
    expect(await page.textContent('[data-score="overall"] .score-value')).toBe('70');
    expect(await page.textContent('[data-score="resources"] .score-value')).toBe('no data');
    expect(await page.getAttribute('[data-score="error_rate"]', 'class')).toContain('level-crit');
    await page.waitForSelector('[data-sla="availability"]', WAIT);
    expect(await page.textContent('[data-sla="availability"] .pill')).toBe('Warning');
    expect(await page.textContent('[data-sla="availability"] .budget')).toContain('error budget 18% left');
    expect(await page.textContent('[data-sla="error-rate"] .pill')).toBe('Violated');
    expect(await page.textContent('[data-sla="throughput"] .pill')).toBe('No data');

    await page.screenshot({ path: path.join(SHOTS, 'desktop-dark.png'), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('lists the firing alert, marks its chart, and shows hostile text as text that runs nothing', async () => {
    const { page, errors, context } = await open();
    await ready(page);
    await page.waitForSelector('.alert[data-alert-id="a-xss"]', WAIT);

    const item = page.locator('.alert[data-alert-id="a-xss"]');
    expect(await item.getAttribute('class')).toBe('alert sev-critical status-firing');
    expect(await item.locator('.alert-message').textContent()).toBe(HOSTILE_ALERT.message);
    expect(await item.locator('.alert-title').textContent()).toBe(HOSTILE_ALERT.title);
    expect(await item.locator('.chip').allTextContents()).toEqual(['route=<script>window.__xss=2</script>', 'method=GET']);
    // No element was made from the text: no <img>, no <script>, no <b> anywhere in the alerts.
    expect(await page.locator('#alerts-panel img, #alerts-panel script, #alerts-panel b').count()).toBe(0);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.evaluate(() => window.__xss)).toBeUndefined();
    expect(server.requests).not.toContain('GET /x');

    // Firing first, then the pending one; the count shows both; the critical chart is marked.
    expect(await page.$$eval('.alert', (els) => els.map((e) => e.getAttribute('data-alert-id')))).toEqual(['a-xss', 'a-mem']);
    expect(await page.textContent('#alerts-panel .count')).toBe('2');
    expect(await page.evaluate(() => window.__dashboard.highlighted())).toEqual(['latency']);
    const card = page.locator('[data-chart="latency"]');
    expect(await card.getAttribute('data-severity')).toBe('critical');
    expect(await card.locator('.alert-badge').isVisible()).toBe(true);
    expect(await card.locator('.alert-badge').textContent()).toBe('critical alert');
    expect(await card.evaluate((c) => getComputedStyle(c).borderTopColor)).toBe('rgb(242, 73, 92)');
    // A pending alert does not mark its chart.
    expect(await page.locator('[data-chart="resources"]').getAttribute('class')).not.toContain('alerting');

    // When the pending alert fires, its chart is marked too; when all resolve, the marks go.
    server.setAlerts([HOSTILE_ALERT, { ...PENDING_ALERT, status: 'firing' }]);
    await page.waitForFunction(() => window.__dashboard.highlighted().length === 2, undefined, WAIT);
    expect(await page.locator('[data-chart="resources"]').getAttribute('data-severity')).toBe('warning');
    await page.screenshot({ path: path.join(SHOTS, 'alerts-firing.png'), fullPage: true });
    server.setAlerts([{ ...HOSTILE_ALERT, status: 'resolved' }]);
    await page.waitForFunction(() => window.__dashboard.highlighted().length === 0, undefined, WAIT);
    expect(await page.textContent('#alerts-panel .alerts')).toBe('No active alerts');
    server.setAlerts([HOSTILE_ALERT, PENDING_ALERT]);

    expect(await page.evaluate(() => window.__xss)).toBeUndefined();
    expect(errors).toEqual([]);
    await context.close();
  });

  it('loads history for 1 h, 6 h and 24 h and goes back to live', async () => {
    const { page, errors, context } = await open();
    await ready(page);
    const before = server.requests.filter((r) => r === 'GET /api/history').length;
    for (const [button, ms] of [['1 h', 3_600_000], ['6 h', 21_600_000], ['24 h', 86_400_000]] as const) {
      await page.click(`#range button:text-is("${button}")`);
      await page.waitForFunction((m) => window.__dashboard.range() === m && window.__dashboard.pointCount('latency', 'p95') === 50, ms, WAIT);
      expect(await page.getAttribute(`#range button:text-is("${button}")`, 'aria-pressed')).toBe('true');
      // The 50 points (data_points) span the picked range, and uPlot draws all of them.
      const [first, last] = (await page.evaluate(() => window.__dashboard.span('latency', 'p95')))!;
      expect(Math.abs(last - first - ms)).toBeLessThanOrEqual(1);
      expect(Date.now() - last).toBeLessThan(10_000);
      expect(await page.evaluate(() => window.__dashboard.plottedCount('latency'))).toBe(50);
    }
    expect(server.requests.filter((r) => r === 'GET /api/history').length).toBeGreaterThanOrEqual(before + 3);
    await page.screenshot({ path: path.join(SHOTS, 'range-24h.png'), fullPage: false });

    await page.click('#range button:text-is("Live")');
    await page.waitForFunction(() => window.__dashboard.range() === 'live', undefined, WAIT);
    const t = await page.evaluate(() => window.__dashboard.lastPoint('latency', 'p95')![0]);
    await page.waitForFunction((t0) => window.__dashboard.lastPoint('latency', 'p95')![0] > t0, t, WAIT);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('reconnects by itself, backing off while the server is down', async () => {
    const { page, errors, context } = await open();
    await ready(page);
    // Earlier tests' pages are closed; the server may see their sockets go a moment later.
    await expect.poll(() => server.clientCount(), { timeout: 10_000, interval: 20 }).toBe(1);
    server.refuseClients(true);
    server.dropClients();
    try {
      await expect.poll(() => server.refusedAt.length, { timeout: 20_000, interval: 20 }).toBeGreaterThanOrEqual(4);
      expect(await page.evaluate(() => window.__dashboard.status())).toBe('reconnecting');
      expect(await page.textContent('#status')).toMatch(/Reconnecting in \d+ s…/);
      await page.screenshot({ path: path.join(SHOTS, 'reconnecting.png') });
      // Exponential backoff with jitter: the 3rd wait (1-2 s) is longer than the 1st (0.25-0.5 s).
      const [t1, t2, , t4] = server.refusedAt;
      expect(t4 - t2).toBeGreaterThan(t2 - t1);
    } finally {
      server.refuseClients(false);
    }
    await page.waitForFunction(() => window.__dashboard.status() === 'live', undefined, { timeout: 20_000 });
    await expect.poll(() => server.clientCount(), { timeout: 10_000, interval: 20 }).toBe(1);
    const t = await page.evaluate(() => window.__dashboard.lastPoint('throughput', 'requests')![0]);
    await page.waitForFunction((t0) => window.__dashboard.lastPoint('throughput', 'requests')![0] > t0, t, WAIT);
    // The browser reports each refused handshake itself; nothing else went wrong.
    for (const e of errors) expect(e).toMatch(/^WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/ws\?token=fixture-token' failed/);
    await context.close();
  });

  it('sends application pings while live', async () => {
    const { page, errors, context } = await open();
    await ready(page);
    const pings = () => server.received.filter((m) => (m as { type: string }).type === 'ping').length;
    const before = pings();
    await expect.poll(pings, { timeout: 10_000, interval: 50 }).toBeGreaterThan(before);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('switches to the light theme and remembers it', async () => {
    const { page, errors, context } = await open();
    await ready(page);
    const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    expect(await bg()).toBe('rgb(17, 18, 23)');
    await page.click('#theme-toggle');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
    expect(await bg()).toBe('rgb(244, 245, 245)');
    expect(await page.getAttribute('#theme-toggle', 'aria-label')).toBe('Switch to dark theme');
    // The plots were rebuilt with the theme's colours and keep their points.
    await page.waitForFunction(() => window.__dashboard.plottedCount('latency') > 3, undefined, WAIT);
    await page.screenshot({ path: path.join(SHOTS, 'desktop-light.png'), fullPage: true });

    await page.reload();
    await ready(page);
    expect(await page.evaluate(() => window.__dashboard.theme())).toBe('light');
    await page.click('#theme-toggle');
    expect(await bg()).toBe('rgb(17, 18, 23)');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('holds the layout at 390 px wide with no horizontal scroll', async () => {
    const { page, errors, context } = await open({ width: 390, height: 844 });
    await ready(page);
    await page.waitForSelector('.alert[data-alert-id="a-xss"]', WAIT);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await page.evaluate(() => document.body.scrollWidth)).toBeLessThanOrEqual(390);
    // Every panel and every plot canvas fits inside the viewport.
    const overflow = await page.evaluate(() =>
      [...document.querySelectorAll('.panel, canvas, .topbar, .alert, .chip')]
        .map((e) => ({ what: e.className || e.tagName, right: e.getBoundingClientRect().right }))
        .filter((r) => r.right > 390.5),
    );
    expect(overflow).toEqual([]);
    // The charts are one column, each close to full width.
    const widths = await page.$$eval('.chart-card', (cards) => cards.map((c) => Math.round(c.getBoundingClientRect().width)));
    for (const w of widths) expect(w).toBeGreaterThan(340);
    // The range picker still works on a phone.
    await page.click('#range button:text-is("6 h")');
    await page.waitForFunction(() => window.__dashboard.range() === 21_600_000 && window.__dashboard.pointCount('latency', 'p50') === 50, undefined, WAIT);
    await page.click('#range button:text-is("Live")');
    await page.screenshot({ path: path.join(SHOTS, 'phone-390.png') });
    await page.screenshot({ path: path.join(SHOTS, 'phone-390-full.png'), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('says the token is missing when the API refuses the page', async () => {
    const { page, errors, context } = await open(undefined, '');
    await page.waitForFunction(() => window.__dashboard?.status() === 'offline', undefined, WAIT);
    expect(await page.textContent('#banner')).toContain('Not authorised');
    expect(await page.isVisible('#banner')).toBe(true);
    // The only console error is the browser's own report of the refused request.
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e).toMatch(/401/);
    await context.close();
  });
});
