/**
 * The service of the end-to-end bench, run in its own process: `node e2e-server.js plain|instrumented|http-only`.
 * A node:http server on 127.0.0.1 (port 0) answering every request with a small JSON body.
 * `instrumented` also starts the whole monitoring tree (`startMonitoring` with a temporary data
 * directory and process metrics on) and `mon.instrument.http(server)`; `http-only` only puts
 * `instrumentHttp` on a bare metric table (no tree, no sources), to tell the two costs apart.
 *
 * IPC: sends `{ port }` once listening; on `{ type: 'usage' }` answers `{ usage: { cpuMs, requests } }`
 * (process CPU time, user + system, and requests answered so far); on `{ type: 'stop' }` stops
 * everything, sends `{ stopped: true, rssBytes }` and exits. Exits too if the parent goes away.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startMonitoring } from '../src/index.js';
import { createLogger } from '../src/logger.js';
import { Registry } from '../src/metrics/registry.js';
import { instrumentHttp } from '../src/sources/http-instrument.js';

const mode = process.argv[2];
if (mode !== 'plain' && mode !== 'instrumented' && mode !== 'http-only') {
  console.error(`usage: e2e-server.js plain|instrumented|http-only (got ${String(mode)})`);
  process.exit(2);
}

const body = JSON.stringify({ ok: true, service: 'bench', items: [1, 2, 3] });
let requests = 0;
const server = http.createServer((_req, res) => {
  requests++;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-bench-e2e-'));
const mon = mode === 'instrumented' ? await startMonitoring({ dataDir, processMetrics: true, logger: createLogger({ level: 'silent' }), config: { dashboard: { port: 0 } } }) : undefined;
mon?.instrument.http(server);
if (mode === 'http-only') instrumentHttp(new Registry({ logger: createLogger({ level: 'silent' }) }), server);

server.listen(0, '127.0.0.1', () => {
  process.send!({ port: (server.address() as AddressInfo).port });
});

async function stop(): Promise<void> {
  const rssBytes = process.memoryUsage().rss;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await mon?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  if (process.connected) process.send!({ stopped: true, rssBytes }, () => process.exit(0));
  else process.exit(0);
}

process.on('message', (msg: { type?: string }) => {
  if (msg?.type === 'stop') void stop();
  if (msg?.type === 'usage') {
    const u = process.cpuUsage();
    process.send!({ usage: { cpuMs: (u.user + u.system) / 1000, requests } });
  }
});
process.on('disconnect', () => void stop().catch(() => process.exit(1)));
