/**
 * The dashboard page in a real headless Chromium (Debian `chromium`, driven by playwright-core),
 * served by the real dashboard process (actors/dashboard.ts: HTTP API, live feed, LMDB history,
 * and its strict CSP, so anything the page does that the CSP forbids is a console error).
 * Screenshots go to test-results/screenshots/.
 */
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ChartPoints, Point, ServerMsg } from '../../src/server/protocol.js';
import { hasSystemBinary } from '../system-deps.js';
import {
  DATA_POINTS,
  HOSTILE_ALERT,
  PENDING_ALERT,
  type RealDashboard,
  REQUESTS_PER_STEP,
  startRealDashboard,
  TOKEN,
} from './real-dashboard.js';

const CHROMIUM = '/usr/bin/chromium';
const SKIP_REASON = 'chromium not installed: apt-get install -y chromium';
const haveChromium = hasSystemBinary(CHROMIUM, 'chromium');
const SHOTS = path.resolve('test-results/screenshots');
const WAIT = { timeout: 15_000 };
const MAIN_CHARTS = [
  'response_time',
  'throughput',
  'error_rate',
  'status_codes',
  'resource_usage',
  'memory',
  'event_loop',
];
const BYTES = /^\d+(\.\d+)? MiB$/;
/** What Chromium logs itself when the server is down: a WebSocket that cannot connect, a request in flight. */
const SERVER_DOWN =
  /^WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/ws\?token=page-test-token' failed|^Failed to load resource: net::ERR_(CONNECTION_REFUSED|EMPTY_RESPONSE|CONNECTION_RESET|CONNECTION_CLOSED)$/;

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
  classList: { contains(name: string): boolean };
  tagName: string;
  textContent: string | null;
  getBoundingClientRect(): { right: number; width: number };
}
declare const window: { __dashboard: Dashboard; __xss?: unknown };
declare const document: {
  documentElement: { dataset: Record<string, string | undefined>; scrollWidth: number };
  body: { scrollWidth: number };
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
};
declare function getComputedStyle(el: unknown): { backgroundColor: string; borderTopColor: string };

interface Opened {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors, in order. */
  errors: string[];
  /** URLs the page requested. */
  requests: string[];
  /** Client messages the page sent on its WebSockets. */
  sent: { type: string }[];
  /** The `at` of each frame the page received, in order. */
  framesAt: number[];
}

/** A feed client of our own: the frames the server sent, to compare with what the page shows. */
function recordFrames(url: string): { frames: { at: number; charts: Record<string, ChartPoints> }[]; close(): void } {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, {
    headers: { authorization: `Bearer ${TOKEN}` },
    perMessageDeflate: false,
  });
  const frames: { at: number; charts: Record<string, ChartPoints> }[] = [];
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as ServerMsg;
    if (msg.type === 'frame' && msg.dashboards.main) frames.push({ at: msg.at, charts: msg.dashboards.main });
  });
  ws.on('error', () => {});
  return { frames, close: () => ws.terminate() };
}

describe.skipIf(!haveChromium)(
  `dashboard page in headless Chromium${haveChromium ? '' : ` (skipped: ${SKIP_REASON})`}`,
  () => {
    let browser: Browser;
    let server: RealDashboard;
    const contexts: BrowserContext[] = [];

    beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      server = await startRealDashboard();
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-quic',
          '--no-first-run',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    }, 60_000);

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
      const requests: string[] = [];
      const sent: { type: string }[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));
      const framesAt: number[] = [];
      page.on('websocket', (ws) => {
        ws.on('framesent', (f) => sent.push(JSON.parse(String(f.payload)) as { type: string }));
        ws.on('framereceived', (f) => {
          const msg = JSON.parse(String(f.payload)) as ServerMsg;
          if (msg.type === 'frame') framesAt.push(msg.at);
        });
      });
      await page.goto(`${server.url}/${query}`);
      return { context, page, errors, requests, sent, framesAt };
    }

    /** Waits until the feed is live and every chart has points. */
    async function ready(page: Page, charts = MAIN_CHARTS) {
      await page.waitForFunction(() => window.__dashboard?.status() === 'live', undefined, WAIT);
      await page.waitForFunction((ids) => ids.every((id) => window.__dashboard.pointCount(id) > 0), charts, WAIT);
    }

    it('loads with no console errors and plots the frames the server sends', { timeout: 90_000 }, async () => {
      const recorder = recordFrames(server.url);
      try {
        const { page, errors, context, framesAt } = await open();
        await ready(page);
        expect(await page.textContent('#title')).toBe('erlmcp monitor');
        expect(await page.$$eval('.chart-card', (cards) => cards.map((c) => c.getAttribute('data-chart')))).toEqual(
          MAIN_CHARTS,
        );

        // The newest point moves forward, and it is the value the server sent at that instant.
        const first = (await page.evaluate(() => window.__dashboard.lastPoint('response_time', 'p99')))!;
        await page.waitForFunction(
          (t) => (window.__dashboard.lastPoint('response_time', 'p99')?.[0] ?? 0) > t + 3 * 200,
          first[0],
          WAIT,
        );
        const last = (await page.evaluate(() => window.__dashboard.lastPoint('response_time', 'p99')))!;
        await expect.poll(() => recorder.frames.some((f) => f.at === last[0]), WAIT).toBe(true);
        const frame = recorder.frames.find((f) => f.at === last[0])!;
        expect(last[1]).toBe(frame.charts.response_time!.p99![1]);
        expect(typeof last[1]).toBe('number');

        // History filled the live window: points older than the first frame the page got (the
        // backfill answer may land after that frame, so wait for it rather than look once).
        await expect.poll(() => framesAt.length, WAIT).toBeGreaterThan(0);
        const firstFrameAt = framesAt[0]!;
        await page.waitForFunction(
          (t) => (window.__dashboard.span('response_time', 'p50')?.[0] ?? Infinity) < t,
          firstFrameAt,
          WAIT,
        );
        // At most data_points are kept: once full, a newer frame keeps the count at the limit.
        // (Frames add one point per 200 ms refresh: up to data_points of them on a loaded machine.)
        await page.waitForFunction((n) => window.__dashboard.pointCount('response_time', 'p50') === n, DATA_POINTS, {
          timeout: 40_000,
        });
        const full = (await page.evaluate(() => window.__dashboard.lastPoint('response_time', 'p50')))!;
        await page.waitForFunction(
          (t) => (window.__dashboard.lastPoint('response_time', 'p50')?.[0] ?? 0) > t,
          full[0],
          WAIT,
        );
        expect(await page.evaluate(() => window.__dashboard.pointCount('response_time', 'p50'))).toBe(DATA_POINTS);
        // uPlot holds the points (it redraws on the next animation frame); the dials show values.
        for (const id of ['response_time', 'throughput', 'error_rate'])
          await page.waitForFunction((c) => window.__dashboard.plottedCount(c) > 10, id, WAIT);
        await page.waitForFunction(() => window.__dashboard.plottedCount('resource_usage') === 2, undefined, WAIT);
        expect(await page.locator('[data-chart="resource_usage"] .gauge-text').allTextContents()).toEqual([
          expect.stringMatching(/^\d+(\.\d+)?%$/),
          expect.stringMatching(/^\d+(\.\d+)?%$/),
        ]);
        expect(await page.locator('[data-chart="response_time"] .legend-value').allTextContents()).toEqual([
          expect.stringMatching(/^\d+(\.\d+)? ms$/),
          expect.stringMatching(/^\d+(\.\d+)? ms$/),
          expect.stringMatching(/^\d+(\.\d+)? ms$/),
        ]);
        // Hovering a plot shows the time and values under the cursor in the legend.
        expect(await page.isVisible('[data-chart="response_time"] .legend-time')).toBe(false);
        const box = (await page.locator('[data-chart="response_time"] .u-over').boundingBox())!;
        await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
        await page.waitForSelector('[data-chart="response_time"] .legend-time:not([hidden])', WAIT);
        expect(await page.textContent('[data-chart="response_time"] .legend-time')).toMatch(/\d{1,2}:\d{2}:\d{2}/);
        await page.mouse.move(0, 0);
        await page.waitForSelector('[data-chart="response_time"] .legend-time[hidden]', { ...WAIT, state: 'attached' });
        // The error rate is a ratio; the page shows it as a percentage.
        expect(await page.textContent('[data-chart="error_rate"] .unit')).toBe('%');
        expect(await page.textContent('[data-chart="error_rate"] .legend-value')).toMatch(/^\d+(\.\d+)?%$/);
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
        expect((await server.stats()).badMessages).toBe(0);
        await context.close();
      } finally {
        recorder.close();
      }
    });

    it('shows the runtime at a glance: RSS and heap in bytes, event-loop lag p99, requests by status class', async () => {
      const { page, errors, context } = await open();
      await ready(page);
      for (const id of ['memory', 'event_loop'])
        await page.waitForFunction((c) => window.__dashboard.plottedCount(c) > 10, id, WAIT);
      // Memory in bytes with a binary prefix, on the legend and the axis; the dial says what it is a share of.
      expect(await page.locator('[data-chart="memory"] .legend-label').allTextContents()).toEqual(['RSS', 'heap used']);
      expect(await page.locator('[data-chart="memory"] .legend-value').allTextContents()).toEqual([
        expect.stringMatching(BYTES),
        expect.stringMatching(BYTES),
      ]);
      expect(await page.textContent('[data-chart="memory"] .unit')).toBe('bytes');
      const rss = (await page.evaluate(() => window.__dashboard.lastPoint('memory', 'RSS')))!;
      expect(rss[1]).toBeGreaterThan(170 * 2 ** 20);
      expect(rss[1]).toBeLessThan(190 * 2 ** 20);
      expect(await page.locator('[data-chart="resource_usage"] .gauge-label').allTextContents()).toEqual([
        'CPU',
        'Memory of limit',
      ]);
      // Event-loop lag p99 in ms.
      expect(await page.textContent('[data-chart="event_loop"] .legend-value')).toMatch(/^\d+(\.\d+)? ms$/);
      // Requests by status class from the request counter's code label: 2xx is 200 and 204 summed,
      // 100 a step against 2 of 503, so its rate is exactly 50 times the 5xx rate; no 3xx was served.
      const ratio = (REQUESTS_PER_STEP['200']! + REQUESTS_PER_STEP['204']!) / REQUESTS_PER_STEP['503']!;
      await page.waitForFunction(
        (r) => {
          const two = window.__dashboard.lastPoint('status_codes', '2xx')?.[1];
          const five = window.__dashboard.lastPoint('status_codes', '5xx')?.[1];
          return typeof two === 'number' && typeof five === 'number' && five > 0 && Math.abs(two / five - r) < 1e-6;
        },
        ratio,
        WAIT,
      );
      const four = (await page.evaluate(() => window.__dashboard.lastPoint('status_codes', '4xx')))!;
      const five = (await page.evaluate(() => window.__dashboard.lastPoint('status_codes', '5xx')))!;
      if (four[0] === five[0])
        expect(four[1]! / five[1]!).toBeCloseTo(REQUESTS_PER_STEP['404']! / REQUESTS_PER_STEP['503']!, 6);
      expect(await page.locator('[data-chart="status_codes"] .legend-label').allTextContents()).toEqual([
        '2xx',
        '3xx',
        '4xx',
        '5xx',
      ]);
      const legend = await page.locator('[data-chart="status_codes"] .legend-value').allTextContents();
      expect(legend[1]).toBe('–');
      for (const i of [0, 2, 3]) expect(legend[i]).toMatch(/^\d+(\.\d+)?k? req\/s$/);
      // One unit spelling: no "req/sec" anywhere on the page.
      expect(await page.textContent('body')).not.toContain('req/sec');
      // The seventh chart, alone in its row of two columns, takes the whole row.
      const [last, first] = await Promise.all(
        ['event_loop', 'response_time'].map((id) => page.locator(`[data-chart="${id}"]`).boundingBox()),
      );
      expect(last!.width).toBeGreaterThan(first!.width * 1.8);
      await page.screenshot({ path: path.join(SHOTS, 'desktop-runtime.png'), fullPage: true });
      await page.locator('[data-chart="status_codes"]').screenshot({ path: path.join(SHOTS, 'panel-status.png') });
      await page.locator('[data-chart="memory"]').screenshot({ path: path.join(SHOTS, 'panel-memory.png') });
      expect(errors).toEqual([]);
      await context.close();
    });

    it('says no data before data, and shows the first values without waiting for a tick', async () => {
      // Nothing set, no history, no scores, and a tick only every 60 s: whatever the page shows in
      // the next 15 s is the history backfill (empty) or the frame sent on connect.
      const quiet = await startRealDashboard({
        config: { refresh_interval: 60_000 },
        seedHistory: false,
        drive: false,
        scores: null,
      });
      try {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        contexts.push(context);
        const page = await context.newPage();
        const errors: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        const framesAt: number[] = [];
        page.on('websocket', (ws) =>
          ws.on('framereceived', (f) => {
            const msg = JSON.parse(String(f.payload)) as ServerMsg;
            if (msg.type === 'frame') framesAt.push(msg.at);
          }),
        );
        await page.goto(`${quiet.url}/?token=${TOKEN}`);
        await page.waitForFunction(() => window.__dashboard?.status() === 'live', undefined, WAIT);
        // The frame sent on connect: a point per series, every value null.
        await page.waitForFunction(
          (ids) => ids.every((id) => window.__dashboard.pointCount(id) > 0),
          MAIN_CHARTS,
          WAIT,
        );
        expect(framesAt).toHaveLength(1);
        for (const id of MAIN_CHARTS)
          await page.waitForSelector(`[data-chart="${id}"].is-empty`, { ...WAIT, state: 'attached' });
        expect(await page.locator('[data-chart="memory"] .empty').isVisible()).toBe(true);
        expect(await page.textContent('[data-chart="memory"] .empty')).toBe('No data');
        // No invented axes behind it, and no dial arc.
        expect(await page.locator('[data-chart="memory"] .u-axis').first().isVisible()).toBe(false);
        expect(await page.locator('[data-chart="resource_usage"] .gauge-value').first().isVisible()).toBe(false);
        expect(await page.locator('[data-chart="status_codes"] .legend-value').allTextContents()).toEqual([
          '–',
          '–',
          '–',
          '–',
        ]);
        // Dials and score tiles say "no data", not a red 0.
        expect(await page.locator('[data-chart="resource_usage"] .gauge-text').allTextContents()).toEqual([
          'no data',
          'no data',
        ]);
        expect(await page.locator('.score .score-value').allTextContents()).toEqual([
          'no data',
          'no data',
          'no data',
          'no data',
          'no data',
        ]);
        for (const tile of await page.locator('.score').all())
          expect(await tile.getAttribute('class')).toContain('level-none');
        await page.screenshot({ path: path.join(SHOTS, 'no-data.png'), fullPage: true });
        await page.setViewportSize({ width: 390, height: 844 });
        await page.screenshot({ path: path.join(SHOTS, 'no-data-390.png'), fullPage: true });

        // Values appear; a page opened now shows them at once, 60 s before the next tick.
        quiet.setValuesOnce();
        const second = await context.newPage();
        await second.goto(`${quiet.url}/?token=${TOKEN}`);
        await second.waitForFunction(
          () => typeof window.__dashboard?.lastPoint('memory', 'RSS')?.[1] === 'number',
          undefined,
          WAIT,
        );
        await second.waitForFunction(
          () => !document.querySelector('[data-chart="memory"]')!.classList.contains('is-empty'),
          undefined,
          WAIT,
        );
        expect(await second.locator('[data-chart="resource_usage"] .gauge-text').allTextContents()).toEqual([
          expect.stringMatching(/^\d+(\.\d+)?%$/),
          expect.stringMatching(/^\d+(\.\d+)?%$/),
        ]);
        expect(await second.textContent('[data-chart="event_loop"] .legend-value')).toMatch(/^\d+(\.\d+)? ms$/);
        expect((await quiet.stats()).ticks).toBe(0);
        expect(errors).toEqual([]);
        await context.close();
      } finally {
        await quiet.close();
      }
    });

    it('lists the firing alert, marks its chart, and shows hostile text as text that runs nothing', async () => {
      const { page, errors, context, requests } = await open();
      await ready(page);
      await page.waitForSelector('.alert[data-alert-id="a-xss"]', WAIT);

      const item = page.locator('.alert[data-alert-id="a-xss"]');
      expect(await item.getAttribute('class')).toBe('alert sev-critical status-firing');
      expect(await item.locator('.alert-message').textContent()).toBe(HOSTILE_ALERT.message);
      expect(await item.locator('.alert-title').textContent()).toBe(HOSTILE_ALERT.title);
      expect(await item.locator('.chip').allTextContents()).toEqual([
        'route=<script>window.__xss=2</script>',
        'method=GET',
      ]);
      // No element was made from the text: no <img>, <script> or <b> in the alerts, no image at all.
      expect(await page.locator('#alerts-panel img, #alerts-panel script, #alerts-panel b').count()).toBe(0);
      expect(await page.locator('img').count()).toBe(0);
      expect(await page.evaluate(() => window.__xss)).toBeUndefined();
      expect(requests.filter((u) => new URL(u).pathname === '/x')).toEqual([]);

      // Firing first, then the pending one; the count shows both; the critical chart is marked.
      expect(await page.$$eval('.alert', (els) => els.map((e) => e.getAttribute('data-alert-id')))).toEqual([
        'a-xss',
        'a-mem',
      ]);
      expect(await page.textContent('#alerts-panel .count')).toBe('2');
      expect(await page.evaluate(() => window.__dashboard.highlighted())).toEqual(['response_time']);
      const card = page.locator('[data-chart="response_time"]');
      expect(await card.getAttribute('data-severity')).toBe('critical');
      expect(await card.locator('.alert-badge').isVisible()).toBe(true);
      expect(await card.locator('.alert-badge').textContent()).toBe('critical alert');
      expect(await card.evaluate((c) => getComputedStyle(c).borderTopColor)).toBe('rgb(242, 73, 92)');
      // A pending alert does not mark its chart.
      expect(await page.locator('[data-chart="resource_usage"]').getAttribute('class')).not.toContain('alerting');

      // When the pending alert fires, its chart is marked too; when all resolve, the marks go.
      server.setAlerts([HOSTILE_ALERT, { ...PENDING_ALERT, status: 'firing' }]);
      await page.waitForFunction(() => window.__dashboard.highlighted().length === 2, undefined, WAIT);
      expect(await page.locator('[data-chart="resource_usage"]').getAttribute('data-severity')).toBe('warning');
      await page.screenshot({ path: path.join(SHOTS, 'alerts-firing.png'), fullPage: true });
      server.setAlerts([]);
      await page.waitForFunction(() => window.__dashboard.highlighted().length === 0, undefined, WAIT);
      expect(await page.textContent('#alerts-panel .alerts')).toBe('No active alerts');
      server.setAlerts([HOSTILE_ALERT, PENDING_ALERT]);

      expect(await page.evaluate(() => window.__xss)).toBeUndefined();
      expect(errors).toEqual([]);
      await context.close();
    });

    it('loads history from LMDB for 1 h, 6 h and 24 h and goes back to live', async () => {
      const { page, errors, context, requests } = await open();
      await ready(page);
      const historyCalls = () => requests.filter((u) => new URL(u).pathname === '/api/history').length;
      const before = historyCalls();
      for (const [button, ms] of [
        ['1 h', 3_600_000],
        ['6 h', 21_600_000],
        ['24 h', 86_400_000],
      ] as const) {
        await page.click(`#range button:text-is("${button}")`);
        await page.waitForFunction(
          (m) =>
            window.__dashboard.range() === m &&
            (window.__dashboard.span('response_time', 'p95')?.[0] ?? Infinity) < Date.now() - m / 2,
          ms,
          WAIT,
        );
        expect(await page.getAttribute(`#range button:text-is("${button}")`, 'aria-pressed')).toBe('true');
        // The seeded history spans the range (it starts a day back), in at most data_points points.
        const [first, last] = (await page.evaluate(() => window.__dashboard.span('response_time', 'p95')))!;
        expect(first).toBeLessThan(Date.now() - ms * 0.9);
        expect(Date.now() - last).toBeLessThan(60_000);
        const count = await page.evaluate(() => window.__dashboard.pointCount('response_time', 'p95'));
        expect(count).toBeGreaterThan(5);
        expect(count).toBeLessThanOrEqual(DATA_POINTS);
        // The chart redraws on the next animation frame after its buffer changed.
        await page.waitForFunction((n) => window.__dashboard.plottedCount('response_time') === n, count, WAIT);
      }
      expect(historyCalls()).toBeGreaterThanOrEqual(before + 3);
      await page.screenshot({ path: path.join(SHOTS, 'range-24h.png') });

      await page.click('#range button:text-is("Live")');
      await page.waitForFunction(() => window.__dashboard.range() === 'live', undefined, WAIT);
      const t = await page.evaluate(() => window.__dashboard.lastPoint('response_time', 'p95')![0]);
      await page.waitForFunction((t0) => window.__dashboard.lastPoint('response_time', 'p95')![0] > t0, t, WAIT);
      expect(errors).toEqual([]);
      await context.close();
    });

    it(
      'reconnects by itself when the server goes away and comes back, backing off meanwhile',
      { timeout: 90_000 },
      async () => {
        const { page, errors, context, sent } = await open();
        await ready(page);
        // Application pings go out while live (every max(2 s, 3 × refresh)).
        await expect.poll(() => sent.filter((m) => m.type === 'ping').length, WAIT).toBeGreaterThan(0);

        await server.stopProcess();
        await page.waitForFunction(() => window.__dashboard.status() === 'reconnecting', undefined, WAIT);
        // While down, something on the port accepts and drops each connection: count the attempts.
        const attempts: number[] = [];
        const stand = net.createServer((socket) => {
          attempts.push(Date.now());
          socket.destroy();
        });
        await new Promise<void>((resolve) => stand.listen(server.port, '127.0.0.1', resolve));
        try {
          await expect.poll(() => attempts.length, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(4);
          expect(await page.evaluate(() => window.__dashboard.status())).toBe('reconnecting');
          expect(await page.textContent('#status')).toMatch(/^\s*Reconnecting( in \d+ s)?…\s*$/);
          await page.screenshot({ path: path.join(SHOTS, 'reconnecting.png') });
          // Exponential backoff with jitter: two later waits add up to more than an earlier one.
          const [t1, t2, , t4] = attempts as [number, number, number, number];
          expect(t4 - t2).toBeGreaterThan(t2 - t1);
        } finally {
          await new Promise<void>((resolve) => stand.close(() => resolve()));
        }
        await server.startProcess();
        await page.waitForFunction(() => window.__dashboard.status() === 'live', undefined, { timeout: 30_000 });
        const t = await page.evaluate(() => window.__dashboard.lastPoint('throughput', 'req/s')![0]);
        await page.waitForFunction((t0) => window.__dashboard.lastPoint('throughput', 'req/s')![0] > t0, t, WAIT);
        // The browser reports each failed connection itself; nothing else went wrong.
        for (const e of errors) expect(e).toMatch(SERVER_DOWN);
        await context.close();
      },
    );

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
      await page.waitForFunction(() => window.__dashboard.plottedCount('response_time') > 10, undefined, WAIT);
      await page.screenshot({ path: path.join(SHOTS, 'desktop-light.png'), fullPage: true });

      // A reload finds the token of this tab though the address bar no longer has it.
      expect(new URL(page.url()).search).toBe('');
      // After a reload the light theme is there before the page's modules run (no dark flash):
      // hold app.js back and look.
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      await page.route('**/assets/app.js', async (route) => {
        await held;
        await route.continue();
      });
      await page.reload({ waitUntil: 'commit' });
      await page.waitForSelector('#status', { state: 'attached' });
      expect(
        await page.evaluate(() =>
          window.__dashboard === undefined ? document.documentElement.dataset.theme : 'app ran',
        ),
      ).toBe('light');
      release();
      await ready(page);
      await page.unrouteAll();
      expect(await page.evaluate(() => window.__dashboard.theme())).toBe('light');
      await page.click('#theme-toggle');
      expect(await bg()).toBe('rgb(17, 18, 23)');
      expect(errors).toEqual([]);
      await context.close();
    });

    it('draws bar and pie charts of a configured dashboard', async () => {
      const { page, errors, context, sent } = await open(undefined, `?token=${TOKEN}&dashboard=ops`);
      await ready(page, ['throughput_bars', 'status_mix']);
      expect(await page.textContent('#title')).toBe('Ops: traffic mix');
      // The page asked the server for the "ops" frames.
      expect(sent).toContainEqual({ type: 'subscribe', dashboards: ['ops'] });
      expect(sent).toContainEqual({ type: 'unsubscribe', dashboards: ['main'] });
      // The token left the address bar (it is kept for the tab), the dashboard name stayed.
      expect(new URL(page.url()).search).toBe('?dashboard=ops');
      await page.waitForFunction(
        () =>
          window.__dashboard.plottedCount('throughput_bars') > 10 &&
          window.__dashboard.plottedCount('status_mix') === 3,
        undefined,
        WAIT,
      );
      const legend = await page.locator('[data-chart="status_mix"] .pie-value').allTextContents();
      expect(legend).toEqual([
        expect.stringMatching(/req\/s · \d/),
        expect.stringMatching(/req\/s · \d/),
        expect.stringMatching(/req\/s · \d/),
      ]);
      const shares = legend.map((l) => Number(/· ([\d.]+)%/.exec(l)![1]));
      expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 0);
      await page.screenshot({ path: path.join(SHOTS, 'ops-bar-pie.png') });
      expect(errors).toEqual([]);
      await context.close();
    });

    it('holds the layout at 390 px wide with no horizontal scroll', async () => {
      const { page, errors, context } = await open({ width: 390, height: 844 });
      await ready(page);
      await page.waitForSelector('.alert[data-alert-id="a-xss"]', WAIT);
      await page.waitForSelector('[data-sla="availability"]', WAIT);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(await page.evaluate(() => document.body.scrollWidth)).toBeLessThanOrEqual(390);
      // Every panel, plot canvas, alert and chip fits inside the viewport.
      const overflow = await page.evaluate(() =>
        [...document.querySelectorAll('.panel, canvas, .topbar, .alert, .chip, .sla')]
          .map((e) => ({ what: e.className || e.tagName, right: e.getBoundingClientRect().right }))
          .filter((r) => r.right > 390.5),
      );
      expect(overflow).toEqual([]);
      // The charts are one column, each close to full width.
      const widths = await page.$$eval('.chart-card', (cards) =>
        cards.map((c) => Math.round(c.getBoundingClientRect().width)),
      );
      for (const w of widths) expect(w).toBeGreaterThan(340);
      // The range picker still works on a phone.
      await page.click('#range button:text-is("6 h")');
      await page.waitForFunction(() => window.__dashboard.range() === 21_600_000, undefined, WAIT);
      await page.click('#range button:text-is("Live")');
      await page.screenshot({ path: path.join(SHOTS, 'phone-390.png') });
      await page.screenshot({ path: path.join(SHOTS, 'phone-390-full.png'), fullPage: true });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(errors).toEqual([]);
      await context.close();
    });

    it('polls /api/realtime when the live feed is off (real_time_enabled: false)', async () => {
      const polled = await startRealDashboard({ config: { real_time_enabled: false }, seedHistory: false });
      try {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        contexts.push(context);
        const page = await context.newPage();
        const errors: string[] = [];
        const sockets: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        page.on('websocket', (ws) => sockets.push(ws.url()));
        let polls = 0;
        page.on('request', (r) => {
          if (new URL(r.url()).pathname === '/api/realtime') polls += 1;
        });
        await page.goto(`${polled.url}/?token=${TOKEN}`);
        await page.waitForFunction(() => window.__dashboard?.status() === 'polling', undefined, WAIT);
        await expect.poll(() => polls, WAIT).toBeGreaterThanOrEqual(3);
        // The newest point moves on twice more: the polls bring points (the history backfill is one request).
        for (let i = 0; i < 2; i++) {
          const t = await page.evaluate(() => window.__dashboard.lastPoint('throughput', 'req/s')?.[0] ?? 0);
          await page.waitForFunction(
            (t0) => (window.__dashboard.lastPoint('throughput', 'req/s')?.[0] ?? 0) > t0,
            t,
            WAIT,
          );
        }
        expect(await page.textContent('#status')).toContain('Polling');
        expect(sockets).toEqual([]);
        expect(errors).toEqual([]);
        await context.close();
      } finally {
        await polled.close();
      }
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
  },
);
