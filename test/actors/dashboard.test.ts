import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dashboard } from '../../actors/dashboard.js';
import { dashboardSchema, type DashboardConfig } from '../../src/config/schema.js';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { DerivedValues } from '../../src/metrics/derived-values.js';
import { OtpSystem, startServer } from '../../src/otp/index.js';
import { standaloneSources } from '../../src/server/dashboard-sources.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { activeResources, leakedAfterSettling, memoryLogger, until } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';
import { connectFeed, runCleanups, startDashboard } from '../server/dashboard-fixture.js';

afterEach(runCleanups);

async function startWith(config: Partial<Record<keyof DashboardConfig, unknown>>) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-dashboard-actor-'));
  const store = MetricStore.open({ dataDir: dir });
  const { registry } = newRegistry();
  const system = new OtpSystem({ logger: memoryLogger() });
  try {
    return await startServer(system, dashboard, {
      registry,
      store,
      // Over the parsed defaults, not through the schema: the schema refuses an exposed bind
      // itself, and this tests that the process refuses it too.
      config: { ...dashboardSchema.parse({ port: 0 }), ...config } as DashboardConfig,
      derived: new DerivedValues(),
      sources: standaloneSources(registry),
    });
  } finally {
    system.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function initError(config: Partial<Record<keyof DashboardConfig, unknown>>): Promise<MonitorError> {
  const err = await startWith(config).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MonitorError);
  expect((err as MonitorError).code).toBe(ErrorCode.InitFailed);
  return err as MonitorError;
}

describe('dashboard process', () => {
  it('refuses to start on a non-loopback host without a token, and leaves nothing behind', async () => {
    const before = activeResources();
    const err = await initError({ host: '0.0.0.0' });
    const cause = err.cause as MonitorError;
    expect(cause).toBeInstanceOf(MonitorError);
    expect(cause.code).toBe(ErrorCode.InvalidConfig);
    expect(cause.message).toBe(
      'dashboard.host "0.0.0.0" is not a loopback address, so dashboard.auth_token must be set (set ERLMCP_DASHBOARD_TOKEN, or bind 127.0.0.1)',
    );
    expect(await leakedAfterSettling(before)).toEqual([]);
  });

  it('fails its start when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const err = await initError({ port });
      const cause = err.cause as MonitorError;
      expect(cause).toBeInstanceOf(MonitorError);
      expect(cause.code).toBe(ErrorCode.ListenFailed);
      expect(cause.message).toBe(
        `the dashboard cannot listen on 127.0.0.1:${port}: the port is in use (EADDRINUSE); ` +
          'set dashboard.port ("port" in dashboard.json, config: { dashboard: { port } }, or ERLMCP_DASHBOARD_PORT) to a free port, ' +
          'or to 0 for any free port (mon.dashboardAddress() tells which), or run without the dashboard: dashboard.dashboard_enabled false',
      );
      expect((cause.cause as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('sends frames on its own refresh timer', async () => {
    const f = await startDashboard({ config: { refresh_interval: 20 } });
    f.registry.gauge('perf.throughput').set(5);
    const client = await connectFeed(f.wsUrl);
    const first = await client.next('frame');
    expect(first.dashboards.main!.throughput!['req/s']![1]).toBe(5);
    await until(() => expect(client.messages.filter((m) => m.type === 'frame').length).toBeGreaterThanOrEqual(3));
  });

  it('drops its clients and closes the port when killed', async () => {
    const f = await startDashboard();
    const client = await connectFeed(f.wsUrl);
    await client.next('connected');
    f.pid.kill();
    await f.pid.exited;
    expect((await client.closed).code).toBe(1006);
    await expect(fetch(`${f.url}/health`)).rejects.toThrow();
  });
});
