import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { startMonitoring } from '../../src/index.js';
import { listenError } from '../../src/server/listen-error.js';
import { memoryLogger } from '../helpers.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function blockedPort(): Promise<number> {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  return (blocker.address() as { port: number }).port;
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`listen ${code}`), { code });
}

describe('listenError', () => {
  it('names the key, its variable, port 0 and dashboard_enabled for a port in use', () => {
    const err = listenError(errno('EADDRINUSE'), '127.0.0.1', 8080);
    expect(err).toBeInstanceOf(MonitorError);
    expect(err.code).toBe(ErrorCode.ListenFailed);
    for (const part of [
      '127.0.0.1:8080',
      'EADDRINUSE',
      'dashboard.port',
      'ERLMCP_DASHBOARD_PORT',
      'to 0 for any free port',
      'dashboard.dashboard_enabled false',
    ]) {
      expect(err.message).toContain(part);
    }
    expect((err.cause as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
  });

  it('says a low port needs privileges (EACCES), with the same ways out', () => {
    const err = listenError(errno('EACCES'), '127.0.0.1', 80);
    expect(err.message).toMatch(
      /^the dashboard cannot listen on 127\.0\.0\.1:80: not permitted \(EACCES; ports below 1024 need privileges\); set dashboard\.port /,
    );
    expect(err.message).toContain('ERLMCP_DASHBOARD_PORT');
  });

  it('points at dashboard.host when the host is not a local address, bracketing IPv6', () => {
    const err = listenError(errno('EADDRNOTAVAIL'), '::2', 9000);
    expect(err.message).toBe(
      'the dashboard cannot listen on [::2]:9000: "::2" is not an address of this machine (EADDRNOTAVAIL); set dashboard.host (ERLMCP_DASHBOARD_HOST), e.g. to 127.0.0.1',
    );
  });

  it('keeps the message of any other listen failure', () => {
    expect(listenError(new Error('boom'), 'localhost', 1).message).toMatch(
      /^the dashboard cannot listen on localhost:1: boom; set dashboard\.port /,
    );
  });
});

describe('startMonitoring with the dashboard port taken', () => {
  it('rejects with the remedy, and each remedy it names starts the tree', async () => {
    const port = await blockedPort();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-listen-error-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const logger = memoryLogger();
    const err = await startMonitoring({ dataDir, logger, env: {}, config: { dashboard: { port } } }).then(
      () => undefined,
      (e: unknown) => e as MonitorError,
    );
    expect(err).toBeInstanceOf(MonitorError);
    expect(err!.code).toBe(ErrorCode.InitFailed);
    expect(err!.message).toContain(
      `the dashboard cannot listen on 127.0.0.1:${port}: the port is in use (EADDRINUSE); set dashboard.port`,
    );
    // The documented chain: the direct cause is the dashboard's own error, whose cause is Node's.
    const cause = err!.cause as MonitorError;
    expect(cause).toBeInstanceOf(MonitorError);
    expect(cause.code).toBe(ErrorCode.ListenFailed);
    expect(cause.message).toBe(
      `the dashboard cannot listen on 127.0.0.1:${port}: the port is in use (EADDRINUSE); set dashboard.port ("port" in dashboard.json, config: { dashboard: { port } }, or ERLMCP_DASHBOARD_PORT) to a free port, or to 0 for any free port (mon.dashboardAddress() tells which), or run without the dashboard: dashboard.dashboard_enabled false`,
    );
    expect((cause.cause as NodeJS.ErrnoException).code).toBe('EADDRINUSE');

    // The remedies, as the message spells them: the variable, port 0, and switching the dashboard off.
    const viaEnv = await startMonitoring({ dataDir, logger, env: { ERLMCP_DASHBOARD_PORT: '0' }, config: {} });
    expect((await viaEnv.dashboardAddress()).port).not.toBe(port);
    await viaEnv.stop();
    const off = await startMonitoring({
      dataDir,
      logger,
      env: {},
      config: { dashboard: { port, dashboard_enabled: false } },
    });
    await expect(off.dashboardAddress()).rejects.toMatchObject({ code: ErrorCode.NoProc });
    await off.stop();
  });
});
