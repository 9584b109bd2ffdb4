/**
 * serveMetrics puts the dashboard server's request limits and access rule on its two routes:
 * the same refusals, with the same statuses, as test/faults/bad-http-input.test.ts asserts there.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { Registry } from '../../src/metrics/registry.js';
import { type MetricsServer, type MetricsServerOptions, serveMetrics } from '../../src/server/metrics-server.js';
import { MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_URL_BYTES } from '../../src/server/request-guard.js';
import { get, rawRequest, requestText } from '../faults/wire-fixture.js';

const open: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function start(options: MetricsServerOptions = {}): Promise<number> {
  const registry = new Registry();
  registry.counter('jobs.done', { help: 'Jobs done' }).inc(3);
  const server = await serveMetrics(registry, options);
  open.push(server);
  return Number(new URL(server.url).port);
}

function errorOf(body: string): string {
  return (JSON.parse(body) as { error: string }).error;
}

describe('serveMetrics', () => {
  it('serves /metrics and /health to a plain GET', async () => {
    const port = await start();
    const metrics = await get(port, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('jobs_done_total 3');
    expect((await get(port, '/health')).body).toContain('"ok"');
  });

  it('refuses other methods with 405 and Allow, a body with 413, a long URL with 414 and a header flood with 431', async () => {
    const port = await start();
    const post = await rawRequest(port, requestText(port, '/metrics', { method: 'POST', body: 'x' }));
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const body = await rawRequest(
      port,
      requestText(port, '/metrics', { headers: { 'content-length': String(MAX_BODY_BYTES + 1) } }),
    );
    expect(body.status).toBe(413);
    expect(body.closedByServer).toBe(true);
    const long = await get(port, `/metrics?${'a'.repeat(MAX_URL_BYTES)}`);
    expect(long.status).toBe(414);
    const flood = await get(port, '/metrics', { 'x-flood': 'y'.repeat(MAX_HEADER_BYTES + 1) });
    expect(flood.status).toBe(431);
    const connect = await rawRequest(port, 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(connect.status).toBe(405);
    expect((await get(port, '/nope')).status).toBe(404);
  });

  it('refuses a foreign Host (DNS rebinding) and a foreign Origin with 403, a request without Host with 400', async () => {
    const port = await start();
    const rebound = await get(port, '/metrics', { host: 'evil.example:80' });
    expect(rebound.status).toBe(403);
    expect(errorOf(rebound.body)).toMatch(/host "evil\.example:80" is not this server/);
    const origin = await get(port, '/metrics', { origin: 'http://evil.example' });
    expect(origin.status).toBe(403);
    expect(origin.body).toMatch(/allowedOrigins/);
    const noHost = await rawRequest(port, 'GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(noHost.status).toBe(400);
  });

  it('requires the token on /metrics when one is set, not on /health', async () => {
    const port = await start({ token: 's3cret' });
    const without = await get(port, '/metrics');
    expect(without.status).toBe(401);
    expect(without.headers['www-authenticate']).toBe('Bearer');
    expect((await get(port, '/metrics', { authorization: 'Bearer wrong' })).status).toBe(401);
    const with_ = await get(port, '/metrics', { authorization: 'Bearer s3cret' });
    expect(with_.status).toBe(200);
    expect(with_.body).toContain('jobs_done_total 3');
    expect((await get(port, '/health')).status).toBe(200);
  });

  it('refuses to bind off loopback without a token', async () => {
    const err = await serveMetrics(new Registry(), { host: '0.0.0.0' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MonitorError);
    expect((err as MonitorError).code).toBe(ErrorCode.InvalidConfig);
    expect((err as MonitorError).message).toMatch(/"0\.0\.0\.0" is not a loopback address/);
    // It names what a serveMetrics user can change, not the dashboard's settings.
    expect((err as MonitorError).message).toMatch(/serveMetrics\(\{ token \}\)/);
    expect((err as MonitorError).message).not.toMatch(/dashboard\./);
  });

  it('cuts a client that trickles its headers past headersMs with a 408', async () => {
    const port = await start({ timeouts: { headersMs: 300, requestMs: 600, checkIntervalMs: 50 } });
    // One header line every 50 ms for up to 5 s: far longer than headersMs.
    const chunks = [
      'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n',
      ...Array.from({ length: 100 }, (_, i) => `x-slow-${i}: 1\r\n`),
    ];
    const res = await rawRequest(port, chunks, { gapMs: 50, timeoutMs: 10_000 });
    expect(res.status).toBe(408);
    expect(res.closedByServer).toBe(true);
  });
});
