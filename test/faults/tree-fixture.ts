/**
 * The whole monitoring tree for fault tests: a temp LMDB dir, short configured intervals, the
 * dashboard on 127.0.0.1:0, a memory logger, and a host HTTP service the tree instruments.
 * Everything registered here is torn down by `runCleanups` (call it in afterEach).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Config, DeepPartial } from '../../src/config/index.js';
import { type Monitor, type MonitoringOptions, startMonitoring } from '../../src/index.js';
import { memoryLogger } from '../helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];

/** Runs (newest first) every cleanup registered since the last call. */
export async function runCleanups(): Promise<void> {
  for (const clean of cleanups.splice(0).reverse()) await clean();
}

/** Registers a cleanup for the current test. */
export function onCleanup(clean: () => Promise<void> | void): void {
  cleanups.push(clean);
}

/** A fresh temp directory, removed at cleanup. */
export function tempDir(prefix = 'erlmcp-faults-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Short intervals so a test sees many ticks in well under a second. */
export const FAST_CONFIG: DeepPartial<Config> = {
  monitoring: { collection_interval: 50, aggregation_interval: 50 },
  performance_monitor: { check_interval: 50 },
  alerting: { check_interval: 50 },
  dashboard: { port: 0, refresh_interval: 50 },
};

export interface Tree {
  mon: Monitor;
  dataDir: string;
  logger: ReturnType<typeof memoryLogger>;
}

/**
 * Starts the tree with FAST_CONFIG merged under `options.config` (one level deep per file) and a
 * temp data dir unless given. Stopped at cleanup (idempotent, so tests may stop it themselves).
 */
export async function startTree(
  options: Omit<MonitoringOptions, 'config'> & { config?: DeepPartial<Config> } = {},
): Promise<Tree> {
  const dataDir = options.dataDir ?? tempDir();
  const logger = memoryLogger();
  const config: Record<string, object> = { ...FAST_CONFIG };
  for (const [file, values] of Object.entries(options.config ?? {}))
    config[file] = { ...(config[file] ?? {}), ...values };
  const mon = await startMonitoring({ env: {}, logger, processMetrics: false, ...options, dataDir, config: config });
  cleanups.push(() => mon.stop());
  return { mon, dataDir, logger };
}

/** A plain node:http service on 127.0.0.1:0 answering 200 (503 on /fail); closed at cleanup. */
export async function hostService(): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer((req, res) => {
    res.writeHead(req.url === '/fail' ? 503 : 200).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
