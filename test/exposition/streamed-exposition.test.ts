import { createServer, request, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { renderChunks } from '../../src/exposition/exposition-chunks.js';
import { sendChunks } from '../../src/exposition/gzip-response.js';
import { streamExposition } from '../../src/exposition/negotiate.js';
import { renderOpenMetrics } from '../../src/exposition/openmetrics-text.js';
import { prometheusTextFormat, renderPrometheusText } from '../../src/exposition/prometheus-text.js';
import { Registry } from '../../src/metrics/registry.js';
import { serveMetrics } from '../../src/server/metrics-server.js';
import { memoryLogger, until } from '../helpers.js';
import { cleanups, runCleanups, startDashboard } from '../server/dashboard-fixture.js';

afterEach(runCleanups);

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0';

/** A GET that leaves the body as sent (fetch would decompress it). */
function rawGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every kind of series, label values that need escaping and multi-byte UTF-8, over several chunks. */
function mixedRegistry(registry = new Registry({ logger: memoryLogger() })): Registry {
  const c = registry.counter('jobs', { help: 'jobs "done"\\ here', labels: ['id', 'note'] });
  const g = registry.gauge('queue.depth', { help: 'depth\nof queue', labels: ['q'], unit: 'bytes' });
  const h = registry.histogram('wait', { help: 'wait', labels: ['route'], unit: 'ms', buckets: [1, 5, 25, 125] });
  for (let i = 0; i < 3_000; i++) c.inc({ id: String(i), note: i % 7 === 0 ? `é"\\\n✓${i}` : 'plain' }, i + 0.5);
  for (let i = 0; i < 500; i++) g.set({ q: `q-ü-${i}` }, i % 3 === 0 ? -i : i * 1e21);
  for (let i = 0; i < 300; i++) for (let k = 0; k < 5; k++) h.observe({ route: `/r/${i}` }, k * 13.7);
  return registry;
}

describe('the streamed /metrics', () => {
  it('equals the non-streamed exposition byte for byte, plain and gzip, in both formats (serveMetrics)', async () => {
    const registry = mixedRegistry();
    expect([...renderChunks(registry, prometheusTextFormat)].length).toBeGreaterThan(5);
    const server = await serveMetrics(registry);
    cleanups.push(() => server.close());
    const text = Buffer.from(await renderPrometheusText(registry), 'utf8');
    const om = Buffer.from(await renderOpenMetrics(registry), 'utf8');

    const plain = await rawGet(`${server.url}/metrics`);
    expect(plain.headers['transfer-encoding']).toBe('chunked');
    expect(plain.body.equals(text)).toBe(true);
    const gz = await rawGet(`${server.url}/metrics`, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(text)).toBe(true);
    const omPlain = await rawGet(`${server.url}/metrics`, { accept: OPENMETRICS });
    expect(omPlain.body.equals(om)).toBe(true);
    const omGz = await rawGet(`${server.url}/metrics`, { accept: OPENMETRICS, 'accept-encoding': 'gzip' });
    expect(gunzipSync(omGz.body).equals(om)).toBe(true);
  });

  it('equals the non-streamed exposition byte for byte from the dashboard server, and HEAD sends no body', async () => {
    const f = await startDashboard();
    mixedRegistry(f.registry);
    const host = new URL(f.url).host;
    const expected = Buffer.from(await renderPrometheusText(f.registry), 'utf8');
    const plain = await rawGet(`${f.url}/metrics`, { host });
    expect(plain.status).toBe(200);
    expect(plain.body.equals(expected)).toBe(true);
    const gz = await rawGet(`${f.url}/metrics`, { host, 'accept-encoding': 'gzip', accept: OPENMETRICS });
    expect(gunzipSync(gz.body).equals(Buffer.from(await renderOpenMetrics(f.registry), 'utf8'))).toBe(true);
    const head = await new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
      const u = new URL(f.url);
      request({ host: u.hostname, port: u.port, path: '/metrics', method: 'HEAD', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
      })
        .on('error', reject)
        .end();
    });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(head.headers['content-length']).toBeUndefined();
  });

  it('equals the non-streamed exposition on a large set (200,000 series, plain and gzip)', async () => {
    const registry = new Registry({ logger: memoryLogger(), seriesLimit: 200_000 });
    const c = registry.counter('big', { labels: ['id'] });
    for (let i = 0; i < 200_000; i++) c.inc({ id: `series-${i}` }, i);
    const server = await serveMetrics(registry);
    cleanups.push(() => server.close());
    const expected = Buffer.from(await renderPrometheusText(registry), 'utf8');
    expect(expected.length).toBeGreaterThan(5_000_000);
    expect((await rawGet(`${server.url}/metrics`)).body.equals(expected)).toBe(true);
    expect(
      gunzipSync((await rawGet(`${server.url}/metrics`, { 'accept-encoding': 'gzip' })).body).equals(expected),
    ).toBe(true);
  }, 60_000);

  it('a reader at 1 KiB/s leaves at most a few chunks buffered in the response, and the render waits for it', async () => {
    const registry = new Registry({ logger: memoryLogger(), seriesLimit: 100_000 });
    const c = registry.counter('slow', { labels: ['id'] });
    const pad = 'x'.repeat(100);
    for (let i = 0; i < 100_000; i++) c.inc({ id: `${pad}${i}` });
    const chunkBytes = [...renderChunks(registry, prometheusTextFormat)].map((s) => Buffer.byteLength(s));
    const total = chunkBytes.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(12_000_000);

    let pulled = 0;
    let maxBuffered = 0;
    let response: ServerResponse | undefined;
    const server = createServer((_req, res) => {
      response = res;
      const { contentType, chunks } = streamExposition(registry, undefined);
      async function* counted(): AsyncGenerator<string> {
        for await (const chunk of chunks) {
          pulled++;
          // res.writableLength counts what the response and its socket hold in user space.
          maxBuffered = Math.max(maxBuffered, res.writableLength);
          yield chunk;
        }
      }
      sendChunks(res, 200, { 'content-type': contentType }, counted(), false);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    cleanups.push(() => void socket.destroy());
    socket.pause();
    socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await until(() => expect(pulled).toBeGreaterThan(0));
    const sampler = setInterval(() => {
      if (response !== undefined) maxBuffered = Math.max(maxBuffered, response.writableLength);
    }, 5);
    cleanups.push(() => clearInterval(sampler));
    let read = 0;
    // 1 KiB/s for 3 s: 256 bytes every 250 ms, bounded by the count.
    for (let i = 0; i < 12; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      read += (socket.read(256) as Buffer | null)?.length ?? 0;
    }
    clearInterval(sampler);
    expect(read).toBeGreaterThan(0);
    const bound = 2 * Math.max(...chunkBytes) + 64 * 1024;
    expect(maxBuffered).toBeLessThanOrEqual(bound);
    // The render stopped where the reader is: most of the exposition was never rendered.
    expect(pulled).toBeLessThan(chunkBytes.length / 2);
  }, 30_000);
});
