import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { dashboard, type DashboardArgs, type DashboardPid } from '../../actors/dashboard.js';
import { dashboardSchema, type DashboardConfig } from '../../src/config/schema.js';
import { DerivedValues } from '../../src/metrics/derived-values.js';
import type { Registry } from '../../src/metrics/registry.js';
import { OtpSystem, startServer } from '../../src/otp/index.js';
import type { ServerMsg } from '../../src/server/protocol.js';
import { type DashboardSources, standaloneSources } from '../../src/server/dashboard-sources.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { activeResources, leakedResources, memoryLogger, until } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';

export const PAGE_HTML = '<!doctype html><title>test page</title><script src="/assets/app.js"></script>';

export interface Fixture {
  pid: DashboardPid;
  url: string;
  wsUrl: string;
  registry: Registry;
  store: MetricStore;
  sources: DashboardSources;
  logger: ReturnType<typeof memoryLogger>;
  /** The injected wall clock; tests move it. */
  clock: { now: number };
  stop(): Promise<void>;
}

/** Where each test's cleanups go; run them in afterEach. */
export const cleanups: (() => Promise<void> | void)[] = [];

export async function runCleanups(): Promise<void> {
  for (const clean of cleanups.splice(0).reverse()) await clean();
}

/**
 * Starts the dashboard process on 127.0.0.1:0 with a real LMDB store in a temp dir, a temp page
 * directory, sources that tests may override, and an injected clock. Registers its cleanup,
 * which also checks that stopping it leaves no handle behind.
 */
export async function startDashboard(
  options: {
    config?: Partial<Record<keyof DashboardConfig, unknown>>;
    sources?: Partial<DashboardSources>;
    args?: Partial<DashboardArgs>;
  } = {},
): Promise<Fixture> {
  const before = activeResources();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-dashboard-test-'));
  const pageDir = path.join(dir, 'page');
  mkdirSync(pageDir);
  writeFileSync(path.join(pageDir, 'index.html'), PAGE_HTML);
  writeFileSync(path.join(pageDir, 'app.js'), 'console.log("app");\n');
  const store = MetricStore.open({ dataDir: path.join(dir, 'store') });
  const { registry } = newRegistry();
  const logger = memoryLogger();
  const system = new OtpSystem({ logger });
  const clock = { now: 1_700_000_000_000 };
  const config = dashboardSchema.parse({ port: 0, refresh_interval: 600_000, ...options.config }) as DashboardConfig;
  const sources: DashboardSources = { ...standaloneSources(registry), ...options.sources };
  const pid = await startServer(system, dashboard, {
    registry,
    store,
    config,
    derived: new DerivedValues(),
    sources,
    now: () => clock.now,
    heartbeatMs: 600_000,
    pageDir,
    ...options.args,
  });
  const { url } = await pid.call({ type: 'address' });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (pid.alive) await pid.stop();
    system.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.push(async () => {
    await stop();
    // Polled by hand: vi.waitFor's own timer would count as a leak on every check after the first.
    let leaked = leakedResources(before);
    for (let i = 0; i < 250 && leaked.length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      leaked = leakedResources(before);
    }
    if (leaked.length > 0)
      throw new Error(
        `leaked: ${leaked.join(', ')} (before: ${before.join(', ')}; now: ${activeResources().join(', ')})`,
      );
  });
  return { pid, url, wsUrl: url.replace(/^http/, 'ws') + '/ws', registry, store, sources, logger, clock, stop };
}

/** A ws client that records every message it gets, parsed. */
export interface FeedClient {
  ws: WebSocket;
  messages: ServerMsg[];
  /** Raw message info: whether each arrived as a binary frame. */
  binary: boolean[];
  /** Waits for the next message matching `type` after `from` (an index into `messages`). */
  next<T extends ServerMsg['type']>(type: T, from?: number): Promise<Extract<ServerMsg, { type: T }>>;
  send(value: unknown): void;
  closed: Promise<{ code: number; reason: string }>;
}

export async function connectFeed(
  url: string,
  options: { headers?: Record<string, string> } = {},
): Promise<FeedClient> {
  const ws = new WebSocket(url, { headers: options.headers, perMessageDeflate: false });
  const messages: ServerMsg[] = [];
  const binary: boolean[] = [];
  ws.on('message', (data, isBinary) => {
    binary.push(isBinary);
    messages.push(JSON.parse(data.toString()) as ServerMsg);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  cleanups.push(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  });
  const client: FeedClient = {
    ws,
    messages,
    binary,
    closed,
    async next(type, from = 0) {
      let found: ServerMsg | undefined;
      await until(() => {
        found = messages.slice(from).find((m) => m.type === type);
        if (found === undefined)
          throw new Error(`no ${type} message yet (got ${messages.map((m) => m.type).join(', ')})`);
      });
      return found as never;
    },
    send(value) {
      ws.send(typeof value === 'string' ? value : JSON.stringify(value));
    },
  };
  return client;
}

/** Tries to open a feed connection and returns the HTTP status it was refused with (or 101). */
export function upgradeStatus(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
        ws.terminate();
      });
    });
    ws.on('open', () => {
      resolve({ status: 101, body: '' });
      ws.terminate();
    });
    ws.on('error', (err) => {
      if (!err.message.includes('Unexpected server response')) reject(err);
    });
  });
}
