import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { renderPrometheusText } from '../../src/exposition/prometheus-text.js';
import { acceptsGzip } from '../../src/exposition/gzip-response.js';
import { MAX_SAMPLES_PER_CHUNK } from '../../src/exposition/exposition-chunks.js';
import { Registry } from '../../src/metrics/registry.js';
import { serveMetrics } from '../../src/server/metrics-server.js';
import { memoryLogger } from '../helpers.js';
import { cleanups, runCleanups, startDashboard } from '../server/dashboard-fixture.js';

afterEach(runCleanups);

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A GET that leaves the body as sent (fetch would decompress it). */
function rawGet(url: string, headers: Record<string, string>): Promise<RawAnswer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers, agent: false },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('acceptsGzip', () => {
  it.each([
    [undefined, false],
    ['', false],
    ['gzip', true],
    ['gzip, deflate, br', true],
    ['deflate, GZIP;q=0.5', true],
    ['x-gzip', true],
    ['gzip;q=0', false],
    ['gzip;q=0.000, *', false],
    ['*', true],
    ['*;q=0', false],
    ['identity', false],
    ['br, deflate', false],
  ] as const)('%j → %s', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });
});

/** A registry whose exposition is several chunks long. */
function bigRegistry(): Registry {
  const registry = new Registry({ logger: memoryLogger() });
  const c = registry.counter('jobs', { labels: ['id'] });
  for (let i = 0; i < MAX_SAMPLES_PER_CHUNK * 3; i++) c.inc({ id: String(i) }, i);
  return registry;
}

describe('/metrics with Accept-Encoding: gzip', () => {
  it('serveMetrics answers gzip, Vary: Accept-Encoding, the same exposition when unpacked', async () => {
    const registry = bigRegistry();
    const server = await serveMetrics(registry);
    cleanups.push(() => server.close());
    const plain = await renderPrometheusText(registry);
    const gz = await rawGet(`${server.url}/metrics`, { 'accept-encoding': 'gzip' });
    expect(gz.status).toBe(200);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('Accept, Accept-Encoding');
    expect(gunzipSync(gz.body).toString('utf8')).toBe(plain);
    expect(gz.body.length).toBeLessThan(plain.length / 3);
    const identity = await rawGet(`${server.url}/metrics`, { 'accept-encoding': 'gzip;q=0, identity' });
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(identity.headers.vary).toBe('Accept, Accept-Encoding');
    expect(identity.body.toString('utf8')).toBe(plain);
    const none = await rawGet(`${server.url}/metrics`, {});
    expect(none.headers['content-encoding']).toBeUndefined();
    expect(none.body.toString('utf8')).toBe(plain);
  });

  it('the dashboard server answers gzip for /metrics only, and OpenMetrics gzipped when both are asked', async () => {
    const f = await startDashboard();
    const c = f.registry.counter('jobs', { labels: ['id'] });
    for (let i = 0; i < 2500; i++) c.inc({ id: String(i) });
    const om = await rawGet(`${f.url}/metrics`, {
      'accept-encoding': 'gzip',
      accept: 'application/openmetrics-text',
      host: new URL(f.url).host,
    });
    expect(om.status).toBe(200);
    expect(om.headers['content-encoding']).toBe('gzip');
    expect(om.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(om.headers.vary).toBe('Accept, Accept-Encoding');
    expect(om.headers['cache-control']).toBe('no-store');
    const text = gunzipSync(om.body).toString('utf8');
    expect(text).toMatch(/^jobs_total\{id="2499"\} 1$/m);
    expect(text.endsWith('# EOF\n')).toBe(true);
    const health = await rawGet(`${f.url}/health`, { 'accept-encoding': 'gzip' });
    expect(health.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(health.body.toString('utf8'))).toMatchObject({ status: 'ok' });
  });
});
