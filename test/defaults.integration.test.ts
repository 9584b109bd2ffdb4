/**
 * Embedding on defaults: a healthy Fastify service, instrumented with per-route labels, under a
 * steady bounded load for 30 s of real time with no configDir raises no alert and logs no
 * warning. The check intervals are 1 s instead of 5 s and 10 s, so the performance monitor and
 * alerting judge it about 30 times each instead of 6 and 3; every threshold, SLA and burn-rate
 * setting is the default. The control runs the same service on the shipped configs/ (the source
 * design's 10,000 req/s and 99.999 %), which alert within seconds: the quiet is the defaults' doing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { fastifyRoute, HTTP_METRICS, type Monitor, type MonitoringOptions, startMonitoring } from '../src/index.js';
import { memoryLogger } from './helpers.js';

const CONFIGS = fileURLToPath(new URL('../configs', import.meta.url));
const RUN_MS = 30_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function start(options: MonitoringOptions): Promise<{ mon: Monitor; logger: ReturnType<typeof memoryLogger> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'emon-defaults-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const logger = memoryLogger();
  const mon = await startMonitoring({ dataDir, env: {}, logger, ...options });
  cleanups.push(() => mon.stop());
  return { mon, logger };
}

/** A small healthy API: fast answers, a few 404s from clients asking for what is not there. */
async function service(mon: Monitor): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify();
  cleanups.push(() => app.close());
  mon.instrument.http(app.server, { name: 'api', route: fastifyRoute(app) });
  app.get('/users/:id', async (request) => ({ id: (request.params as { id: string }).id }));
  app.get('/health', async () => 'ok');
  app.post('/orders', async (_request, reply) => reply.code(201).send({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

/**
 * Steady load until `ms` have passed or `onSecond` (called about once a second) answers true;
 * bounded by that deadline. Returns the number of requests.
 */
async function load(url: string, ms: number, onSecond: () => Promise<boolean | void>): Promise<number> {
  const paths = ['/users/1', '/users/2', '/health', '/users/3', '/missing'];
  const end = performance.now() + ms;
  let sent = 0;
  let nextSecond = performance.now() + 1000;
  while (performance.now() < end) {
    const path = paths[sent % paths.length]!;
    const res = await fetch(url + (sent % 7 === 0 ? '/orders' : path), sent % 7 === 0 ? { method: 'POST' } : {});
    await res.arrayBuffer();
    sent++;
    // About 40 req/s at most: a real service's pace, not a benchmark's.
    await new Promise((resolve) => setTimeout(resolve, 25));
    if (performance.now() >= nextSecond) {
      nextSecond += 1000;
      if ((await onSecond()) === true) break;
    }
  }
  return sent;
}

describe('embedding on defaults', () => {
  it(
    'keeps a healthy instrumented service quiet for 30 s: no alert, no warning',
    { timeout: RUN_MS + 30_000 },
    async () => {
      const { mon, logger } = await start({
        config: {
          performance_monitor: { check_interval: 1000 },
          alerting: { check_interval: 1000 },
          dashboard: { port: 0 },
        },
      });
      expect(mon.config.performance_monitor.slas).toEqual([]);
      expect(mon.config.performance_monitor.throughput_threshold).toBeUndefined();
      const { url } = await service(mon);
      const seen = new Set<string>();
      const sent = await load(url, RUN_MS, async () => {
        for (const alert of await mon.alerting.getActiveAlerts())
          seen.add(`${alert.severity} ${alert.title}: ${alert.message}`);
      });
      const report = await mon.performance.call({ type: 'report' });
      for (const alert of await mon.alerting.getActiveAlerts())
        seen.add(`${alert.severity} ${alert.title}: ${alert.message}`);

      expect([...seen]).toEqual([]);
      expect(report.firing).toEqual({});
      expect(report.burn_rates).toEqual([]);
      expect(
        logger.records.filter((r) => r.level === 'warn' || r.level === 'error').map((r) => `${r.level}: ${r.msg}`),
      ).toEqual([]);
      // It really was measured: traffic, per route, and no failures.
      expect(sent).toBeGreaterThan(100);
      expect(report.metrics.throughput.value).toBeGreaterThan(0);
      expect(report.metrics.error_rate.value).toBe(0);
      const routes = new Set(
        mon.metrics
          .require(HTTP_METRICS.requests, 'counter')
          .series()
          .map((s) => s.labels.route),
      );
      expect([...routes].sort()).toEqual(['/health', '/orders', '/users/:id', 'unmatched']);
    },
  );

  it(
    "alerts the same service within seconds on the shipped configs/ (the source design's SLAs), so the test above can fail",
    { timeout: 60_000 },
    async () => {
      const { mon } = await start({
        configDir: CONFIGS,
        config: {
          performance_monitor: { check_interval: 1000 },
          alerting: { check_interval: 1000 },
          dashboard: { port: 0 },
        },
      });
      const { url } = await service(mon);
      const titles = new Set<string>();
      await load(url, 30_000, async () => {
        for (const alert of await mon.alerting.getActiveAlerts()) titles.add(alert.title);
        return titles.has('INFO Alert: throughput') && titles.has('ERROR Alert: sla.throughput');
      });
      expect([...titles]).toEqual(expect.arrayContaining(['INFO Alert: throughput', 'ERROR Alert: sla.throughput']));
    },
  );
});
